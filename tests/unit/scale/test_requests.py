"""Request rate through the balancer: nginx's counter page, the rate between two readings, and the
target-tracking and alarm decisions made on it."""

from __future__ import annotations

import pytest

from dockyard.errors import SpecError
from dockyard.router.counter import parse_stub_status
from dockyard.scale.alarms import Alarm, Step
from dockyard.scale.policy import Inputs, Policy, Replica, decide, request_rate
from dockyard.spec import parse_spec

NOW = 1000.0
P = Policy(min=1, max=4, targets=(("requests", 20.0),), period=5.0, down_window=0.0)
PAGE = "Active connections: 2 \nserver accepts handled requests\n 120 120 4531 \nReading: 0 Writing: 1 Waiting: 0 \n"


def replicas(n: int) -> tuple[Replica, ...]:
    return tuple(Replica(f"r{i}", NOW) for i in range(1, n + 1))  # just started: requests need no warm-up


def test_the_counter_page() -> None:
    assert parse_stub_status(PAGE) == 4531
    with pytest.raises(ValueError):
        parse_stub_status("<html>502 Bad Gateway</html>")


def test_rate_between_two_readings_less_the_reading_itself() -> None:
    assert request_rate(P, ((NOW - 5.0, 1000), (NOW, 1301))) == 60.0
    assert request_rate(P, ((NOW - 5.0, 1000), (NOW, 1001))) == 0.0
    assert request_rate(P, ((NOW, 1301),)) is None  # the first reading
    assert request_rate(P, ((NOW - 16.0, 1000), (NOW, 1301))) is None  # older than 3 periods
    assert request_rate(P, ((NOW - 5.0, 1000), (NOW, 12))) is None  # nginx restarted


def test_target_tracking_on_requests_per_replica() -> None:
    d = decide(P, Inputs(NOW, replicas(1), requests=((NOW - 5.0, 0), (NOW, 301))))
    assert (d.desired, d.action) == (3, "scale-out")
    assert d.reason == "requests 60.0 req/s per replica of target 20 req/s per replica: ceil(60.0 / 20) = 3"
    d = decide(P, Inputs(NOW, replicas(3), requests=((NOW - 5.0, 0), (NOW, 31))))
    assert (d.desired, d.action, d.metrics["requests"]) == (1, "scale-in", 2.0)


def test_no_counter_never_shrinks() -> None:
    d = decide(P, Inputs(NOW, replicas(3), requests=((NOW, 31),)))
    assert (d.desired, d.action) == (3, "hold")
    assert d.missing == ("r1", "r2", "r3")


def test_an_alarm_on_the_total_rate() -> None:
    busy = Alarm(name="busy", metric="requests", statistic="sum", comparison="above", threshold=100.0, period=5.0,
                 evaluation_periods=1, datapoints_to_alarm=1, missing_data="missing", steps=(Step(0.0, None, 1),),
                 cooldown=0.0)
    policy = Policy(min=1, max=4, targets=(), period=5.0, alarms=(busy,))
    d = decide(policy, Inputs(NOW, replicas(2), requests=((NOW - 5.0, 0), (NOW, 601))))
    assert (d.desired, d.alarms[0].value) == (3, 120.0)


def test_requests_need_a_balancer() -> None:
    text = ("app: a\nservices:\n  web: {port: 8080}\nenvironments:\n  dev:\n    scaling:\n"
            "      web: {min: 1, max: 2, requests_target: 50}\n"
            "  prod:\n    scaling:\n      web:\n        min: 1\n        max: 2\n        alarms:\n"
            "          - {metric: requests, comparison: above, threshold: 9, steps: [{change: 1}]}\n")
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "dockyard.yml")
    why = "requests are counted by the environment's balancer: needs strategy: blue-green with a router"
    assert caught.value.problems == [f"dockyard.yml:7: environments.dev.scaling.web.requests_target: {why}",
                                     f"dockyard.yml:14: environments.prod.scaling.web.alarms[0].metric: {why}"]

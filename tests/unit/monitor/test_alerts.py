from __future__ import annotations

import pytest

from dockyard.errors import SpecError
from dockyard.monitor.alerts import AlertState, evaluate
from dockyard.monitor.model import Probe, Sample
from dockyard.monitor.rules import AlertRule, parse_rules


def sample(**kw) -> Sample:
    base = dict(id="x", name="shop_prod_web_1", app="shop", env="prod", service="web")
    return Sample(**{**base, **kw})


def rule(**kw) -> AlertRule:
    return AlertRule.model_validate(kw)


def test_down_starts_and_ends() -> None:
    state, rules = AlertState(), [rule(name="down", when="down")]
    assert evaluate(rules, [sample()], [], state, 0) == []
    started = evaluate(rules, [sample(up=False, state="down")], [], state, 1)
    assert len(started) == 1 and started[0].ended_at is None and started[0].started_at == 1
    assert evaluate(rules, [sample(up=False, state="down")], [], state, 2) == []  # still firing, no new event
    ended = evaluate(rules, [sample()], [], state, 3)
    assert ended[0].started_at == 1 and ended[0].ended_at == 3


def test_cpu_needs_its_duration() -> None:
    state, rules = AlertState(), [rule(name="hot", when="cpu", above=80, **{"for": "2s"})]
    assert evaluate(rules, [sample(cpu_percent=95)], [], state, 10) == []
    assert evaluate(rules, [sample(cpu_percent=95)], [], state, 11) == []
    assert [e.rule for e in evaluate(rules, [sample(cpu_percent=95)], [], state, 12)] == ["hot"]
    state2 = AlertState()
    evaluate(rules, [sample(cpu_percent=95)], [], state2, 10)
    evaluate(rules, [sample(cpu_percent=10)], [], state2, 11)  # dropped: the clock restarts
    assert evaluate(rules, [sample(cpu_percent=95)], [], state2, 12) == []


def test_memory_share_of_limit() -> None:
    rules = [rule(name="mem", when="memory", above=50)]
    assert evaluate(rules, [sample(memory_bytes=60, memory_limit_bytes=100)], [], AlertState(), 0)[0].message \
        == "shop_prod_web_1 uses 60% of its memory limit"
    assert evaluate(rules, [sample(memory_bytes=60, memory_limit_bytes=None)], [], AlertState(), 0) == []


def test_probe_failing() -> None:
    bad = Probe("shop_prod_web_1", 8080, 32000, "tcp", "http", False, 0.1, "HTTP 503")
    events = evaluate([rule(name="probe", when="probe")], [sample()], [bad], AlertState(), 0)
    assert "HTTP 503" in events[0].message


def test_restarting_within_window() -> None:
    state, rules = AlertState(), [rule(name="flap", when="restarting", window="1m")]
    evaluate(rules, [sample(restarts=0)], [], state, 0)
    assert len(evaluate(rules, [sample(restarts=1)], [], state, 5)) == 1
    assert evaluate(rules, [sample(restarts=1)], [], state, 30) == []
    assert evaluate(rules, [sample(restarts=1)], [], state, 70)[0].ended_at == 70


def test_scope_filters() -> None:
    rules = [rule(name="down", when="down", service="db")]
    assert evaluate(rules, [sample(up=False)], [], AlertState(), 0) == []


def test_parse_rules_from_spec_data() -> None:
    rules = parse_rules({"app": "shop", "alerts": [{"name": "hot", "when": "cpu", "above": 80, "for": "30s"}]})
    assert rules[0].for_ == 30.0 and rules[0].app == "shop"
    assert parse_rules({"app": "shop"}) == []


def test_parse_rules_names_bad_items() -> None:
    with pytest.raises(SpecError) as err:
        parse_rules({"alerts": [{"name": "x", "when": "disk"}, {"when": "cpu", "for": "soon"}]}, "d.yml")
    text = str(err.value)
    assert "d.yml: alerts[0].when" in text and "alerts[1].name" in text and "alerts[1].for" in text

"""Threshold alarms with step adjustments: exact states, changes and reasons for given datapoints."""

from __future__ import annotations

import orjson

from dockyard.scale.alarms import ALARM, INSUFFICIENT, OK, Alarm, Step, combine, datapoint, evaluate
from dockyard.scale.policy import Inputs, Policy, Reading, Replica, alarm_history, decide, inputs_from_record
from dockyard.spec import parse_spec

NOW = 1000.0
HIGH = Alarm(name="high", metric="cpu", statistic="average", comparison="above", threshold=70.0, period=10.0,
             evaluation_periods=3, datapoints_to_alarm=2, missing_data="missing",
             steps=(Step(0.0, 20.0, 1), Step(20.0, None, 2)), cooldown=60.0)
LOW = Alarm(name="low", metric="cpu", statistic="maximum", comparison="below", threshold=20.0, period=10.0,
            evaluation_periods=2, datapoints_to_alarm=2, missing_data="missing", steps=(Step(0.0, None, -1),),
            cooldown=60.0)
POLICY = Policy(min=1, max=5, targets=(), period=10.0, alarms=(HIGH, LOW))


def points(*values: float | None, every: float = 10.0) -> list[tuple[float, float | None]]:
    """Datapoints ending at NOW, oldest first."""
    return [(NOW - every * (len(values) - 1 - i), v) for i, v in enumerate(values)]


def test_two_of_three_breaching_periods_alarm_and_the_step_follows_the_latest_datapoint() -> None:
    r = evaluate(HIGH, points(50.0, 75.0, 95.0), NOW, OK)
    assert (r.state, r.breaching, r.periods, r.change) == (ALARM, 2, 3, 2)
    assert r.reason == "high: average cpu 95 (>= 70 in 2 of 3 periods, 2 to alarm): ALARM: step 20.. -> +2"
    assert evaluate(HIGH, points(75.0, 50.0, 80.0), NOW, OK).change == 1


def test_one_breaching_period_is_not_enough() -> None:
    r = evaluate(HIGH, points(50.0, 60.0, 95.0), NOW, OK)
    assert (r.state, r.breaching, r.change) == (OK, 1, 0)


def test_datapoints_older_than_the_evaluation_periods_do_not_count() -> None:
    old = [(NOW - 45.0, 99.0), (NOW - 35.0, 99.0)]
    r = evaluate(HIGH, [*old, (NOW - 20.0, None), (NOW - 10.0, None), (NOW, 99.0)], NOW, OK)
    assert (r.state, r.breaching, r.missing) == (OK, 1, 2)


def test_missing_data_treatments() -> None:
    gaps = points(None, None, 90.0)
    assert evaluate(HIGH, gaps, NOW, OK).state == OK  # missing: left out, 1 of the 1 present breaches
    breaching = Alarm(**{**HIGH.__dict__, "missing_data": "breaching"})
    assert evaluate(breaching, gaps, NOW, OK).state == ALARM
    not_breaching = Alarm(**{**HIGH.__dict__, "missing_data": "not-breaching"})
    assert evaluate(not_breaching, gaps, NOW, OK).state == OK
    nothing = points(None, None, None)
    assert evaluate(HIGH, nothing, NOW, ALARM).state == INSUFFICIENT
    ignore = Alarm(**{**HIGH.__dict__, "missing_data": "ignore"})
    r = evaluate(ignore, nothing, NOW, ALARM)
    assert (r.state, r.change) == (ALARM, 0)  # the state holds, but nothing acts without a datapoint
    assert r.reason.endswith("ALARM, but no datapoint now: no change")


def test_a_scale_in_alarm_needs_every_replica_seen() -> None:
    assert datapoint(LOW, {"a": 5.0, "b": 7.0}, ["a", "b"]) == 7.0  # maximum
    assert datapoint(LOW, {"a": 5.0}, ["a", "b"]) is None  # b may be the busy one
    assert datapoint(HIGH, {"a": 90.0}, ["a", "b"]) == 90.0  # growing on what is seen is safe
    assert datapoint(HIGH, {"a": 1.0, "b": 2.0, "c": 6.0}, ["a", "b", "c"]) == 3.0


def test_the_alarm_giving_the_most_replicas_wins_and_cooldown_stops_an_alarm() -> None:
    up = evaluate(HIGH, points(80.0, 95.0), NOW, OK)
    down = evaluate(LOW, points(5.0, 5.0), NOW, OK)
    count, reason = combine(3, [up, down], [HIGH, LOW], NOW, None)
    assert count == 5 and reason.endswith("high wins: 3 -> 5")
    count, reason = combine(3, [up, down], [HIGH, LOW], NOW, NOW - 30.0)
    assert count == 3
    assert "high in its 60s cooldown (30s since the last scaling)" in reason


def test_decide_scales_out_on_an_alarm_and_clamps_to_max() -> None:
    reps = tuple(Replica(f"r{i}", 0.0) for i in (1, 2, 3, 4))
    readings = tuple(Reading(f"r{i}", "cpu", 99.0, NOW) for i in (1, 2, 3, 4))
    history = (("high", NOW - 10.0, 97.0), ("low", NOW - 10.0, 97.0))
    d = decide(POLICY, Inputs(NOW, reps, readings, alarm_points=history))
    assert (d.recommendation, d.desired, d.action) == (6, 5, "scale-out")
    assert d.reason.endswith("high wins: 4 -> 6; clamped to max 5")
    assert [(a.name, a.state) for a in d.alarms] == [("high", ALARM), ("low", OK)]


def test_decide_never_scales_in_on_missing_samples() -> None:
    reps = (Replica("r1", 0.0), Replica("r2", 0.0))
    history = (("low", NOW - 10.0, 3.0),)
    seen_one = (Reading("r1", "cpu", 2.0, NOW),)
    d = decide(POLICY, Inputs(NOW, reps, seen_one, alarm_points=history))
    assert (d.desired, d.action) == (2, "hold")
    seen_both = (*seen_one, Reading("r2", "cpu", 4.0, NOW))
    d = decide(POLICY, Inputs(NOW, reps, seen_both, alarm_points=history))
    assert (d.desired, d.action) == (1, "scale-in")


def test_history_and_replay_round_trip_through_stored_records() -> None:
    reps = (Replica("r1", 0.0),)
    first = decide(POLICY, Inputs(NOW - 10.0, reps, (Reading("r1", "cpu", 91.0, NOW - 10.0),)))
    stored = [{"at": first.at, "inputs": orjson.loads(orjson.dumps(first.record()))}]
    pts, states = alarm_history(stored)
    assert pts == (("high", NOW - 10.0, 91.0), ("low", NOW - 10.0, 91.0)) and states == (("high", OK), ("low", OK))
    second = decide(POLICY, Inputs(NOW, reps, (Reading("r1", "cpu", 92.0, NOW),), alarm_points=pts,
                                   alarm_states=states))
    assert (second.desired, second.action) == (3, "scale-out")
    again = decide(POLICY, inputs_from_record(orjson.loads(orjson.dumps(second.record()))["inputs"]))
    assert (again.desired, again.reason) == (second.desired, second.reason)


def test_the_spec_builds_the_alarms() -> None:
    spec = parse_spec(
        "app: a\nservices:\n  web: {port: 8080}\nenvironments:\n  prod:\n    scaling:\n      web:\n"
        "        min: 1\n        max: 4\n        alarms:\n"
        "          - {metric: cpu, comparison: above, threshold: 70, period: 5s, evaluation_periods: 3,"
        " datapoints_to_alarm: 2, steps: [{change: 1, upper: 20}, {lower: 20, change: 2}], cooldown: 30s}\n"
        "          - {name: idle, metric: memory, statistic: maximum, comparison: below, threshold: 10,"
        " period: 20s, steps: [{change: -1}]}\n")
    policy = Policy.from_spec(spec.environment("prod").scaling["web"])
    assert policy.period == 5.0 and policy.metrics == ["cpu", "memory"] and policy.alarm_lookback == 20.0
    high, idle = policy.alarms
    assert (high.name, high.datapoints_to_alarm, high.steps, high.cooldown) == (
        "cpu-above-1", 2, (Step(0.0, 20.0, 1), Step(20.0, None, 2)), 30.0)
    assert (idle.name, idle.evaluation_periods, idle.datapoints_to_alarm, idle.scales_in) == ("idle", 1, 1, True)

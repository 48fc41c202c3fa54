"""Target tracking: exact decisions for given samples, windows, overrides and missing data."""

from __future__ import annotations

import orjson

from dockyard.scale.policy import (
    Decision,
    Inputs,
    Policy,
    Reading,
    Replica,
    decide,
    inputs_from_record,
    window_history,
)
from dockyard.spec.model import ScalingSpec

P = Policy(min=1, max=3, targets=(("cpu", 50.0),), tolerance=0.1, period=2.0, up_window=0.0, down_window=10.0)
NOW = 1000.0


def replicas(n: int, started: float = 0.0) -> tuple[Replica, ...]:
    return tuple(Replica(f"r{i}", started) for i in range(1, n + 1))


def cpu(*values: float | None, at: float = NOW, metric: str = "cpu") -> tuple[Reading, ...]:
    return tuple(Reading(f"r{i}", metric, v, at) for i, v in enumerate(values, start=1))


def test_one_hot_replica_asks_for_two() -> None:
    inputs = Inputs(NOW, replicas(1), cpu(100.0))
    d = decide(P, inputs)
    assert d == Decision(at=NOW, current=1, desired=2, recommendation=2, action="scale-out",
                         reason="cpu 100.0% of target 50%: ceil(100.0 / 50) = 2",
                         metrics={"cpu": 100.0}, samples={"cpu": {"r1": 100.0}}, missing=(),
                         up_recommendation=2, down_recommendation=2, inputs=inputs)


def test_growth_is_clamped_to_max() -> None:
    d = decide(P, Inputs(NOW, replicas(2), cpu(100.0, 90.0)))
    assert (d.recommendation, d.desired, d.action) == (4, 3, "scale-out")
    assert d.reason == "cpu 95.0% of target 50%: ceil(190.0 / 50) = 4; clamped to max 3"


def test_within_tolerance_holds() -> None:
    d = decide(P, Inputs(NOW, replicas(2), cpu(54.0, 55.0)))
    assert (d.recommendation, d.desired, d.action) == (2, 2, "hold")
    assert d.reason == "cpu 54.5% of target 50%: within the 10% tolerance"


def test_exact_ratio_does_not_round_up() -> None:
    policy = Policy(min=1, max=10, targets=(("cpu", 55.0),), tolerance=0.0)
    assert decide(policy, Inputs(NOW, replicas(2), cpu(110.0, 0.0))).desired == 2


def test_shrinking_waits_for_the_down_window() -> None:
    history = ((NOW - 9.0, 3), (NOW - 4.0, 2))
    d = decide(P, Inputs(NOW, replicas(3), cpu(5.0, 5.0, 5.0), history))
    assert (d.recommendation, d.down_recommendation, d.desired, d.action) == (1, 3, 3, "hold")
    assert d.reason == "cpu 5.0% of target 50%: ceil(3 x 5.0 / 50) = 1; held at 3 by the 10s scale-down window"
    # Once the 3 leaves the window the highest recommendation left is 2.
    d = decide(P, Inputs(NOW + 1.0, replicas(3), cpu(5.0, 5.0, 5.0, at=NOW + 1), history))
    assert (d.down_recommendation, d.desired, d.action) == (2, 2, "scale-in")


def test_shrinks_to_min_never_below() -> None:
    d = decide(P, Inputs(NOW, replicas(2), cpu(0.0, 0.0)))
    assert (d.recommendation, d.desired, d.action) == (0, 1, "scale-in")
    assert d.reason.endswith("; clamped to min 1")


def test_scale_up_window_takes_the_lowest_recent_recommendation() -> None:
    policy = Policy(min=1, max=10, targets=(("cpu", 50.0),), up_window=6.0, down_window=10.0)
    d = decide(policy, Inputs(NOW, replicas(1), cpu(200.0), ((NOW - 5.0, 1), (NOW - 3.0, 3))))
    assert (d.recommendation, d.up_recommendation, d.desired) == (4, 1, 1)
    d = decide(policy, Inputs(NOW, replicas(1), cpu(200.0), ((NOW - 7.0, 1), (NOW - 3.0, 3))))
    assert (d.up_recommendation, d.desired, d.action) == (3, 3, "scale-out")
    assert d.reason.endswith("; 3 by the 6s scale-up window")


def test_no_samples_at_all_holds_even_when_the_window_would_shrink() -> None:
    d = decide(P, Inputs(NOW, replicas(3), (), ((NOW - 20.0, 1),)))
    assert (d.recommendation, d.desired, d.action) == (3, 3, "hold")
    assert d.reason == "no fresh samples (is the agent running?): hold"
    assert d.missing == ("r1", "r2", "r3") and d.metrics == {"cpu": None}


def test_stale_samples_are_missing() -> None:
    d = decide(P, Inputs(NOW, replicas(2), cpu(1.0, 1.0, at=NOW - 11.0)))
    assert (d.desired, d.action, d.missing) == (2, "hold", ("r1", "r2"))


def test_a_replica_without_a_sample_forbids_shrinking() -> None:
    d = decide(P, Inputs(NOW, replicas(3), cpu(1.0, 1.0)))
    assert (d.recommendation, d.desired, d.action, d.missing) == (3, 3, "hold", ("r3",))
    assert d.reason == ("cpu 1.0% of target 50%, but 1 replica(s) have no fresh sample: "
                        "never shrink on missing data")


def test_a_replica_without_a_sample_counts_as_idle_when_growing() -> None:
    # r2 just started: 100% on r1 alone is 50% over two replicas: hold, do not overshoot.
    d = decide(P, Inputs(NOW, (Replica("r1", 0.0), Replica("r2", NOW - 1.0)), cpu(100.0, 0.0)))
    assert (d.desired, d.action, d.missing) == (2, "hold", ("r2",))
    assert d.reason == "cpu 100.0% of target 50%, 1 replica(s) without samples counted as 0%: hold"
    d = decide(P, Inputs(NOW, (Replica("r1", 0.0), Replica("r2", NOW - 1.0)), cpu(160.0, 0.0)))
    assert (d.recommendation, d.desired) == (4, 3)


def test_largest_recommendation_of_several_metrics_wins() -> None:
    policy = Policy(min=1, max=10, targets=(("cpu", 50.0), ("memory", 80.0)))
    readings = cpu(10.0, 10.0) + cpu(100.0, 100.0, metric="memory")
    d = decide(policy, Inputs(NOW, replicas(2), readings))
    assert (d.recommendation, d.desired, d.metrics) == (3, 3, {"cpu": 10.0, "memory": 100.0})


def test_manual_override_is_held_within_min_and_max() -> None:
    d = decide(P, Inputs(NOW, replicas(1), cpu(100.0), override=7))
    assert (d.recommendation, d.desired, d.action, d.override) == (7, 3, "scale-out", 7)
    assert d.reason == "manual override 7; clamped to max 3"
    d = decide(P, Inputs(NOW, replicas(3), cpu(100.0, 100.0, 100.0), override=1))
    assert (d.desired, d.action, d.reason) == (1, "scale-in", "manual override 1")


def test_nothing_running_is_left_to_deploy() -> None:
    d = decide(P, Inputs(NOW, (), ()))
    assert (d.current, d.desired, d.action, d.reason) == (0, 0, "hold",
                                                         "no replica of the live release runs: deploy first")


def test_steady_load_does_not_flap() -> None:
    """A load that swings around the target by +-30% for a minute: one scale-out, no scale-in."""
    history: list[tuple[float, int]] = []
    count, changes = 2, []
    for tick in range(30):
        now = NOW + tick * 2.0
        value = 50.0 * count / 2 * (1.3 if tick % 2 else 0.7) * 2 / count  # the same total work
        d = decide(P, Inputs(now, replicas(count), cpu(*[value] * count, at=now), tuple(history)))
        history.append((now, d.recommendation))
        if d.desired != count:
            changes.append((tick, count, d.desired))
            count = d.desired
    assert changes == [(1, 2, 3)]


def test_policy_from_spec_and_history_from_events() -> None:
    spec = ScalingSpec.model_validate({"min": 1, "max": 3, "cpu_target": 50, "period": "2s",
                                       "scale_down_window": "30s"})
    assert Policy.from_spec(spec) == Policy(min=1, max=3, targets=(("cpu", 50.0),), tolerance=0.1, period=2.0,
                                            up_window=0.0, down_window=30.0, stale_after=10.0)
    assert window_history([{"at": 2, "recommendation": 3}, {"at": 1.0, "recommendation": "2"}]) == ((1.0, 2),
                                                                                                     (2.0, 3))


def test_a_stored_decision_replays_to_itself() -> None:
    inputs = Inputs(NOW, (Replica("r1", 0.0), Replica("r2", NOW - 1.0)), cpu(160.0, 0.0), ((NOW - 3.0, 2),), None)
    d = decide(P, inputs)
    stored = orjson.loads(orjson.dumps(d.record()))
    assert inputs_from_record(stored["inputs"]) == inputs
    assert decide(P, inputs_from_record(stored["inputs"])) == d

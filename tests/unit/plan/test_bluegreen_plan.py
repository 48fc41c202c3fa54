from __future__ import annotations

from dockyard.plan.bluegreen import ColorFacts, Facts, Target, plan_bluegreen, plan_housekeeping

TARGET = Target("r2", frozenset({"h2"}), 2, ("smoke",), 300.0)


def color(release: str, hash_: str, n: int = 2, running: int | None = None) -> ColorFacts:
    return ColorFacts(frozenset({release}), frozenset({hash_}), n, n if running is None else running)


def facts(live: str | None = None, preview: str | None = None, router: bool = True, now: float = 1000.0,
          switched_at: float | None = 900.0, **colors: ColorFacts) -> Facts:
    return Facts(live, preview, switched_at, router, colors, now)


def lines(steps) -> list[str]:
    return [s.describe() for s in steps]


def test_first_deploy_starts_router_and_blue() -> None:
    assert lines(plan_bluegreen(facts(router=False, switched_at=None), TARGET)) == [
        "router   blue: the balancer is not running; start it",
        "start    blue: 2 replica(s) of release r2, each must become healthy",
        "preview  blue: standby listener -> the new colour, for its tests",
        "test     blue smoke: through the standby listener",
        "switch   blue: first live colour: blue",
    ]


def test_new_release_goes_to_the_idle_colour_and_the_old_is_kept() -> None:
    steps = plan_bluegreen(facts("blue", "green", blue=color("r1", "h1"), green=color("r0", "h0")), TARGET)
    assert lines(steps) == [
        "retire   green: idle with release r0: kept for a rollback; the new release takes its place",
        "start    green: 2 replica(s) of release r2, each must become healthy",
        "preview  green: standby listener -> the new colour, for its tests",
        "test     green smoke: through the standby listener",
        "switch   green: live traffic blue -> green; blue moves to standby",
        "keep     blue: kept idle for a rollback for 300s",
    ]


def test_zero_window_retires_the_old_colour_after_the_switch() -> None:
    target = Target("r2", frozenset({"h2"}), 2, (), 0.0)
    assert lines(plan_bluegreen(facts("green", blue=ColorFacts(), green=color("r1", "h1")), target))[-2:] == [
        "switch   blue: live traffic green -> blue; green moves to standby",
        "retire   green: rollback window is 0: drain and remove now",
    ]


def test_same_release_live_is_a_noop_and_expired_idle_is_retired() -> None:
    steps = plan_bluegreen(facts("blue", "green", now=2000.0, blue=color("r2", "h2"), green=color("r1", "h1")),
                           TARGET)
    assert lines(steps) == ["noop     blue: already live with release r2",
                            "retire   green: rollback window of 300s ended"]


def test_idle_colour_already_running_the_release_is_switched_to_without_a_start() -> None:
    steps = plan_bluegreen(facts("blue", "green", blue=color("r1", "h1"), green=color("r2", "h2")), TARGET)
    assert [s.kind.value for s in steps] == ["check", "preview", "test", "switch", "keep"]


def test_a_colour_with_a_dead_replica_or_a_drifted_config_is_rebuilt() -> None:
    dead = plan_bluegreen(facts("blue", "green", blue=color("r1", "h1"), green=color("r2", "h2", running=1)),
                          TARGET)
    assert [s.kind.value for s in dead][:2] == ["retire", "start"]
    drift = plan_bluegreen(facts("blue", "green", blue=color("r1", "h1"), green=color("r2", "hX")), TARGET)
    assert [s.kind.value for s in drift][:2] == ["retire", "start"]


def test_live_colour_with_nothing_running_counts_as_no_live() -> None:
    steps = plan_bluegreen(facts("blue", None, blue=color("r1", "h1", running=0), green=color("r0", "h0")),
                           TARGET)
    assert lines(steps) == [
        "retire   blue: idle with release r1: not routed (left by an interrupted or failed deploy)",
        "start    blue: 2 replica(s) of release r2, each must become healthy",
        "preview  blue: standby listener -> the new colour, for its tests",
        "test     blue smoke: through the standby listener",
        "switch   blue: first live colour: blue",
        "retire   green: not routed (left by an interrupted deploy)",
    ]


def test_housekeeping() -> None:
    inside = facts("blue", "green", now=1100.0, blue=color("r1", "h1"), green=color("r0", "h0"))
    assert plan_housekeeping(inside, 300.0) == []
    after = facts("blue", "green", router=False, now=1300.0, blue=color("r1", "h1"), green=color("r0", "h0"))
    assert lines(plan_housekeeping(after, 300.0)) == ["router   blue: the balancer is not running; start it",
                                                      "retire   green: rollback window of 300s ended"]
    nothing_live = facts(None, None, blue=color("r1", "h1"))
    assert lines(plan_housekeeping(nothing_live, 300.0)) == [
        "retire   blue: no live traffic reaches it (left by an interrupted deploy)"]


def test_the_old_colours_workers_are_parked_after_the_switch_unless_kept() -> None:
    with_worker = ColorFacts(frozenset({"r1"}), frozenset({"h1"}), 3, 3, workers=1)
    steps = lines(plan_bluegreen(facts(live="blue", blue=with_worker), TARGET))
    assert steps[-2:] == ["keep     blue: kept idle for a rollback for 300s",
                          "park     blue: its workers stop while it stands by (router.workers: stop)"]
    kept = Target("r2", frozenset({"h2"}), 2, ("smoke",), 300.0, workers="keep")
    assert not any(s.startswith("park") for s in lines(plan_bluegreen(facts(live="blue", blue=with_worker), kept)))


def test_an_idle_colour_with_parked_workers_is_resumed_not_rebuilt() -> None:
    parked = ColorFacts(frozenset({"r2"}), frozenset({"h2"}), 2, 1, parked=1, workers=1)
    steps = lines(plan_bluegreen(facts(live="blue", preview="green", blue=color("r1", "h1"), green=parked), TARGET))
    assert steps[0] == "check    green: already has release r2; start its 1 parked worker(s), probe it again"
    assert not any(s.startswith(("retire", "start")) for s in steps)
    # a stopped replica that is not a parked worker (a web replica that died) is rebuilt
    dead = ColorFacts(frozenset({"r2"}), frozenset({"h2"}), 2, 1, parked=0, workers=1)
    steps = lines(plan_bluegreen(facts(live="blue", preview="green", blue=color("r1", "h1"), green=dead), TARGET))
    assert steps[0].startswith("retire   green") and steps[1].startswith("start    green")

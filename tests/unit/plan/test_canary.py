"""The canary's judgement and its next move, by exact equality on recorded windows (issue 32)."""

from __future__ import annotations

from dockyard.plan.canary import Decision, Step, Verdict, Window, judge, next_move
from dockyard.spec.canary import AnalysisSpec

RULES = AnalysisSpec(max_5xx_ratio=0.01, max_latency_ratio=1.5, latency_floor_ms=1, min_requests=20)
# recorded windows: upstream ms as the edge logged them
STABLE = Window.of([200] * 180, [4, 5, 5, 6, 5, 4, 7, 5, 5, 6] * 18)
GOOD = Window.of([200] * 40, [5, 4, 6, 5, 5, 7, 5, 4, 5, 6] * 4)
FIVE_PERCENT = Window.of([200] * 38 + [500] * 2, [5] * 40)
SLOW = Window.of([200] * 40, [15, 16, 17, 15, 21, 18, 15, 16, 15, 19] * 4)
FEW = Window.of([200] * 12, [5] * 12)


def test_a_good_release_passes() -> None:
    assert judge(GOOD, STABLE, RULES) == Verdict(
        "pass", (), canary={"requests": 40, "errors_5xx": 0, "ratio_5xx": 0.0, "p95_ms": 7, "p99_ms": 7},
        stable={"requests": 180, "errors_5xx": 0, "ratio_5xx": 0.0, "p95_ms": 7, "p99_ms": 7})


def test_five_percent_500s_fail_the_5xx_rule() -> None:
    verdict = judge(FIVE_PERCENT, STABLE, RULES)
    assert (verdict.outcome, verdict.reasons) == ("fail", ("5xx ratio 0.0500 > 0.01 (2 of 40; stable 0.0000)",))


def test_a_slow_p95_fails_the_latency_ratio() -> None:
    verdict = judge(SLOW, STABLE, RULES)
    assert (verdict.outcome, verdict.reasons) == ("fail", ("p95 21 ms is 3.00x the stable's 7 ms > 1.5x",))
    assert judge(SLOW, STABLE, RULES, names=("new release", "release before")).reasons == (
        "p95 21 ms is 3.00x the release before's 7 ms > 1.5x",)
    absolute = AnalysisSpec(max_5xx_ratio=None, max_p95_ms=20, max_p99_ms=25, min_requests=20)
    assert judge(SLOW, STABLE, absolute).reasons == ("p95 21 ms > 20 ms (stable 7 ms)",)


def test_too_few_requests_is_inconclusive_never_a_pass() -> None:
    verdict = judge(FEW, STABLE, RULES)
    assert (verdict.outcome, verdict.reasons) == ("inconclusive", ("12 of the 20 canary requests a verdict needs",))
    # a ratio needs the stable release's requests too
    assert judge(GOOD, FEW, RULES).reasons == ("p95 ratio: 12 of the 20 stable requests it needs",)
    # below the floor, latencies are equal: 1 ms against 3 ms is no regression
    floor = AnalysisSpec(max_latency_ratio=1.5, latency_floor_ms=10, min_requests=20)
    assert judge(Window.of([200] * 40, [3] * 40), Window.of([200] * 40, [1] * 40), floor).outcome == "pass"



def test_the_5xx_already_seen_settle_a_window_before_its_min_requests() -> None:
    # one 500 in the first 7: of the 20 a verdict needs, 1 is already 0.05 > 0.01, whatever the 13 to come
    early = Window.of([200] * 6 + [500], [5] * 7)
    assert judge(early, STABLE, RULES, final=False) == Verdict(
        "fail", ("5xx ratio at least 0.0500 > 0.01 (1 in the first 7 of the 20 canary requests a verdict needs; "
                 "stable 0.0000)",),
        canary={"requests": 7, "errors_5xx": 1, "ratio_5xx": 0.1429, "p95_ms": 5, "p99_ms": 5},
        stable={"requests": 180, "errors_5xx": 0, "ratio_5xx": 0.0, "p95_ms": 7, "p99_ms": 7})
    # a looser rule is not settled by it: 1 of 20 is 0.05, not above 0.05
    loose = AnalysisSpec(max_5xx_ratio=0.05, min_requests=20)
    assert judge(early, STABLE, loose).reasons == ("7 of the 20 canary requests a verdict needs",)
    assert judge(Window.of([200] * 5 + [500] * 2, [5] * 7), STABLE, loose).outcome == "fail"

STEPS = [Step(5, 60), Step(25, 60), Step(50, 60)]


def move(step: int = 0, elapsed: float = 10, verdict: Verdict | None = None, request: str = "",
         paused: bool = False, inconclusive: str = "wait") -> Decision:
    verdict = verdict or judge(GOOD, STABLE, RULES)
    return next_move(STEPS, step, 1000.0, 1000.0 + elapsed, paused, verdict, request, inconclusive)


def test_moves_between_the_steps() -> None:
    assert move() == Decision("hold", "in its pause")
    assert move(elapsed=60) == Decision("advance", "step 1 passed")
    assert move(step=2, elapsed=61) == Decision("promote", "step 3 passed")
    failing = judge(FIVE_PERCENT, STABLE, RULES)
    assert move(verdict=failing) == Decision("abort", "5xx ratio 0.0500 > 0.01 (2 of 40; stable 0.0000)")
    assert move(verdict=failing, paused=True).move == "abort"  # a pause never shields a failing canary
    few = judge(FEW, STABLE, RULES)
    assert move(elapsed=90, verdict=few) == Decision("hold", "waiting: 12 of the 20 canary requests a verdict needs")
    assert move(elapsed=90, verdict=few, inconclusive="fail") == Decision(
        "abort", "inconclusive at the end of the pause: 12 of the 20 canary requests a verdict needs")


def test_a_persons_requests_come_first() -> None:
    assert move(request="abort") == Decision("abort", "aborted by hand")
    assert move(request="promote") == Decision("advance", "promoted to the next step by hand")
    assert move(step=2, request="promote") == Decision("promote", "promoted by hand")
    assert move(request="promote-full") == Decision("promote", "promoted by hand")
    assert move(request="pause") == Decision("pause", "paused by hand")
    assert move(request="pause", paused=True, elapsed=90) == Decision("hold", "paused")
    assert move(request="resume", paused=True) == Decision("resume", "resumed by hand")


def test_cpu_per_request_and_memory_per_replica_from_the_agent() -> None:
    from dockyard.plan.canary import Usage

    rules = AnalysisSpec(max_5xx_ratio=None, max_cpu_ratio=2, max_memory_ratio=1.5, min_requests=20)
    # the canary's 2 replicas answered 40 requests, the stable's 3 answered 180: per request, the
    # canary's 13 % x 2 / 40 is 3.55x the stable's 11 % x 3 / 180
    calm = (Usage((12.0, 14.0), (50 << 20, 52 << 20), 2), Usage((10.0, 12.0, 11.0), (48 << 20,) * 3, 3))
    verdict = judge(GOOD, STABLE, rules, usage=calm)
    assert verdict.reasons == ("cpu per request is 3.55x the stable's > 2x (13.0% per replica against 11.0%)",)
    assert (verdict.canary["cpu_percent"], verdict.canary["memory_bytes"]) == (13.0, 53477376)
    same_work = (Usage((6.0,), (50 << 20,), 2), Usage((11.0, 11.0), (48 << 20,), 3))
    assert judge(GOOD, STABLE, rules, usage=same_work).outcome == "pass"
    hungry = (Usage((6.0,), (200 << 20,), 2), Usage((11.0,), (48 << 20,), 3))
    assert judge(GOOD, STABLE, rules, usage=hungry).reasons == (
        "memory 200.0 MiB per replica is 4.17x the stable's 48.0 MiB > 1.5x",)
    # no sample yet (no agent): those rules cannot pass
    assert judge(GOOD, STABLE, rules, usage=(Usage(), Usage())).reasons == (
        "cpu ratio: no sample of the host agent for both releases yet",
        "memory ratio: no sample of the host agent for both releases yet")

"""A canary rollout's judgement and its next move. Pure: metric windows in, a verdict with its
reasons out (`judge`); a rollout's state, the time and a verdict in, what to do next out (`next_move`).

A window is what the edge answered for one release over the same span of time as the other's:
how many requests, how many 5xx, the upstream latencies. The canary is judged on its own numbers
(absolute thresholds) and against the stable release's (ratios). Too few canary requests make the
window inconclusive, which never passes: the rollout waits for more, or fails, as dockyard.yml says;
except where the 5xx already seen settle it: 2 of the first 5 fail a 5 % rule on 20 requests, as
the 15 to come cannot bring the ratio down enough.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Outcome = Literal["pass", "fail", "inconclusive"]


class Rules(Protocol):
    """spec.canary.AnalysisSpec, or any object with its fields."""

    max_5xx_ratio: float | None
    max_p95_ms: float | None
    max_p99_ms: float | None
    max_latency_ratio: float | None
    max_p99_ratio: float | None
    latency_floor_ms: float
    min_requests: int
    max_cpu_ratio: float | None
    max_memory_ratio: float | None
    cpu_floor_percent: float

    @property
    def queries(self) -> Sequence[Any]: ...  # spec.canary.QuerySpec: name, max, max_ratio


@dataclass(frozen=True)
class Window:
    """One release's requests at the edge over a span: count, 5xx, upstream latencies (ms, sorted)."""

    requests: int = 0
    errors: int = 0
    latencies: tuple[float, ...] = ()

    @classmethod
    def of(cls, statuses: Sequence[int], latencies: Sequence[float]) -> Window:
        return cls(len(statuses), sum(1 for s in statuses if s >= 500), tuple(sorted(latencies)))

    @property
    def error_ratio(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def percentile(self, p: float) -> float | None:
        """Nearest rank; None without a latency."""
        if not self.latencies:
            return None
        return self.latencies[max(0, math.ceil(p / 100 * len(self.latencies)) - 1)]

    def summary(self) -> dict[str, Any]:
        return {"requests": self.requests, "errors_5xx": self.errors, "ratio_5xx": round(self.error_ratio, 4),
                "p95_ms": self.percentile(95), "p99_ms": self.percentile(99)}


@dataclass(frozen=True)
class Usage:
    """One release's replicas as the host agent sampled them over the span: CPU percent and memory
    bytes, a value per replica per look."""

    cpu: tuple[float, ...] = ()
    memory: tuple[int, ...] = ()
    replicas: int = 0

    def summary(self) -> dict[str, Any]:
        return {"cpu_percent": round(sum(self.cpu) / len(self.cpu), 2) if self.cpu else None,
                "memory_bytes": round(sum(self.memory) / len(self.memory)) if self.memory else None}


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reasons: tuple[str, ...]
    canary: dict[str, Any] = field(default_factory=dict)
    stable: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reasons": list(self.reasons), "canary": self.canary, "stable": self.stable}


def _ms(value: float | None) -> str:
    return "none" if value is None else f"{value:g} ms"


EARLY = 5  # before its window ends, a latency or resource rule fails only on this many times min_requests


Measured = dict[str, tuple[float | None, float | None]]  # a query's name -> (the canary's number, the stable's)


def judge(canary: Window, stable: Window, rules: Rules, names: tuple[str, str] = ("canary", "stable"),
          usage: tuple[Usage, Usage] | None = None, final: bool = True, measured: Measured | None = None) -> Verdict:
    """The canary's window against the rules and the stable window of the same span (a watch: the new
    live release's against the release before's, `names` saying so); `usage`: both releases' replicas
    as the agent sampled them, for the CPU and memory rules; `measured`: the Prometheus queries' last
    answers for both. Before the window ends (not `final`), a
    5xx is evidence at once, but a percentile of a few requests is noise: the latency and resource
    rules then judge only windows of EARLY x min_requests requests on each side."""
    numbers = {"canary": canary.summary(), "stable": stable.summary()}
    if usage is not None:
        numbers = {"canary": {**numbers["canary"], **usage[0].summary()},
                   "stable": {**numbers["stable"], **usage[1].summary()}}
    new, old = names
    if rules.max_5xx_ratio is not None and 0 < canary.requests < rules.min_requests \
            and canary.errors / rules.min_requests > rules.max_5xx_ratio:
        # settled early: whatever the rest of the requests a verdict needs answer, the ratio is over
        return Verdict("fail", (f"5xx ratio at least {canary.errors / rules.min_requests:.4f} > "
                                f"{rules.max_5xx_ratio:g} ({canary.errors} in the first {canary.requests} of the "
                                f"{rules.min_requests} {new} requests a verdict needs; {old} "
                                f"{stable.error_ratio:.4f})",), **numbers)
    if canary.requests < rules.min_requests:
        return Verdict("inconclusive", (f"{canary.requests} of the {rules.min_requests} {new} requests a verdict "
                                        "needs",), **numbers)
    failed: list[str] = []
    unjudged: list[str] = []
    if rules.max_5xx_ratio is not None and canary.error_ratio > rules.max_5xx_ratio:
        failed.append(f"5xx ratio {canary.error_ratio:.4f} > {rules.max_5xx_ratio:g} ({canary.errors} of "
                      f"{canary.requests}; {old} {stable.error_ratio:.4f})")
    if not final and min(canary.requests, stable.requests) < EARLY * rules.min_requests:
        return Verdict("fail", tuple(failed), **numbers) if failed else \
            Verdict("inconclusive", ("the window is still open",), **numbers)
    for p, limit in ((95, rules.max_p95_ms), (99, rules.max_p99_ms)):
        value = canary.percentile(p)
        if limit is not None and value is not None and value > limit:
            failed.append(f"p{p} {_ms(value)} > {limit:g} ms ({old} {_ms(stable.percentile(p))})")
    for p, limit in ((95, rules.max_latency_ratio), (99, rules.max_p99_ratio)):
        if limit is None:
            continue
        mine, theirs = canary.percentile(p), stable.percentile(p)
        if mine is None or theirs is None or stable.requests < rules.min_requests:
            unjudged.append(f"p{p} ratio: {stable.requests} of the {rules.min_requests} {old} requests it needs")
            continue
        ratio = max(mine, rules.latency_floor_ms) / max(theirs, rules.latency_floor_ms)
        if ratio > limit:
            failed.append(f"p{p} {_ms(mine)} is {ratio:.2f}x the {old}'s {_ms(theirs)} > {limit:g}x")
    resource_failed, resource_unjudged = _resources(rules, usage, (canary, stable), old)
    query_failed, query_unjudged = _queries(rules, measured or {}, old)
    failed += resource_failed + query_failed
    unjudged += resource_unjudged + query_unjudged
    if failed:
        return Verdict("fail", tuple(failed), **numbers)
    if unjudged:
        return Verdict("inconclusive", tuple(unjudged), **numbers)
    return Verdict("pass", (), **numbers)


def _resources(rules: Rules, usage: tuple[Usage, Usage] | None, windows: tuple[Window, Window],
               old: str) -> tuple[list[str], list[str]]:
    """The CPU and memory rules: (failed, unjudged) reasons. CPU is compared per request (a replica's
    mean times the replicas, over the requests of the same span), so a canary at 60 % of the
    requests is not judged for doing more work than a stable release at 40 %; memory per replica."""
    failed: list[str] = []
    unjudged: list[str] = []
    mine, theirs = usage if usage is not None else (Usage(), Usage())
    if rules.max_cpu_ratio is not None:
        if not (mine.cpu and theirs.cpu and windows[0].requests and windows[1].requests):
            unjudged.append("cpu ratio: no sample of the host agent for both releases yet")
        else:
            a, b = (max(sum(u.cpu) / len(u.cpu), rules.cpu_floor_percent) * max(u.replicas, 1) / w.requests
                    for u, w in zip((mine, theirs), windows, strict=True))
            if a / b > rules.max_cpu_ratio:
                failed.append(f"cpu per request is {a / b:.2f}x the {old}'s > {rules.max_cpu_ratio:g}x "
                              f"({sum(mine.cpu) / len(mine.cpu):.1f}% per replica against "
                              f"{sum(theirs.cpu) / len(theirs.cpu):.1f}%)")
    if rules.max_memory_ratio is not None:
        if not (mine.memory and theirs.memory):
            unjudged.append("memory ratio: no sample of the host agent for both releases yet")
        else:
            a, b = (max(sum(u.memory) / len(u.memory), 1.0) for u in (mine, theirs))
            if a / b > rules.max_memory_ratio:
                failed.append(f"memory {a / 2**20:.1f} MiB per replica is {a / b:.2f}x the {old}'s "
                              f"{b / 2**20:.1f} MiB > {rules.max_memory_ratio:g}x")
    return failed, unjudged


def _queries(rules: Rules, measured: Measured, old: str) -> tuple[list[str], list[str]]:
    """The Prometheus queries: (failed, unjudged) reasons."""
    failed: list[str] = []
    unjudged: list[str] = []
    for query in rules.queries:
        mine, theirs = measured.get(query.name, (None, None))
        if mine is None or (query.max_ratio is not None and theirs is None):
            unjudged.append(f"query {query.name}: no answer of Prometheus yet")
            continue
        if query.max is not None and mine > query.max:
            failed.append(f"query {query.name}: {mine:.4g} > {query.max:g}")
        if query.max_ratio is not None and theirs is not None:
            ratio = mine / theirs if theirs else (float("inf") if mine else 1.0)
            if ratio > query.max_ratio:
                failed.append(f"query {query.name}: {mine:.4g} is {ratio:.2f}x the {old}'s {theirs:.4g} "
                              f"> {query.max_ratio:g}x")
    return failed, unjudged


Move = Literal["hold", "advance", "promote", "abort", "pause", "resume"]


@dataclass(frozen=True)
class Step:
    weight: int
    pause: float


@dataclass(frozen=True)
class Decision:
    move: Move
    reason: str


def next_move(steps: Sequence[Step], step: int, started: float, now: float, paused: bool, verdict: Verdict,
              request: str, inconclusive: str) -> Decision:
    """What a rollout at `step` (since `started`) does now: a person's request first (abort, promote
    [-full], pause, resume), then a failed verdict aborts at once (also while paused), then a step
    whose pause is over goes on once its window passed."""
    last = step >= len(steps) - 1
    if request == "abort":
        return Decision("abort", "aborted by hand")
    if request == "promote-full" or (request == "promote" and last):
        return Decision("promote", "promoted by hand")
    if request == "promote":
        return Decision("advance", "promoted to the next step by hand")
    if verdict.outcome == "fail":
        return Decision("abort", "; ".join(verdict.reasons))
    if request == "pause" and not paused:
        return Decision("pause", "paused by hand")
    if request == "resume" and paused:
        return Decision("resume", "resumed by hand")
    if paused or now - started < steps[step].pause:
        return Decision("hold", "paused" if paused else "in its pause")
    if verdict.outcome == "inconclusive":
        if inconclusive == "fail":
            return Decision("abort", "inconclusive at the end of the pause: " + "; ".join(verdict.reasons))
        return Decision("hold", "waiting: " + "; ".join(verdict.reasons))
    return Decision("promote" if last else "advance", f"step {step + 1} passed")

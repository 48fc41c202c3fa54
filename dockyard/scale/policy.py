"""Pure target-tracking policy: (policy, observed inputs) -> one Decision with its reason.

No I/O: the loop (scale/loop.py) gathers the inputs and stores every Decision as an event; tests
call `decide` and compare exact decisions.

The rule, as Kubernetes' HPA computes it:

- per metric, the utilisation of each replica is a % of its limit (cpu: of its `cpus`, or of one
  core without a limit; memory: of its memory limit), or for `requests` the balancer's request rate
  divided by the serving replicas (`request_rate`); the recommendation is
  ceil(replicas x mean utilisation / target), or the current count when mean/target is within
  `tolerance` of 1. With several targets the largest recommendation wins.
- missing data never shrinks: a replica without a fresh sample (the agent is down, the sample is
  older than `stale_after`, or the replica started less than `warmup` ago) counts as 0 % when
  growing and forbids shrinking; with no sample at all the count is held.
- stabilisation: the count grows to the lowest recommendation made within `up_window` and
  shrinks only to the highest made within `down_window`, so a steady load does not flap.
- then the count is clamped to min..max. A manual override (`dockyard scale ENV SERVICE N`)
  replaces the metrics until it is cleared, clamped the same way.

A policy with threshold alarms instead of targets (scale/alarms.py) takes the count the alarms ask
for, with their cooldowns in place of the stabilisation windows; clamping and overrides are the same.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.scale import alarms as A

if TYPE_CHECKING:
    from dockyard.spec import ScalingSpec

EPSILON = 1e-9  # ceil(2 x 55 / 55) must be 2, not 3 from a rounding error


@dataclass(frozen=True)
class Policy:
    min: int
    max: int
    targets: tuple[tuple[str, float], ...]  # (metric, target): cpu | memory in %, requests in requests/s per replica
    tolerance: float = 0.1
    period: float = 15.0
    up_window: float = 0.0
    down_window: float = 300.0
    stale_after: float = 10.0  # a sample older than this is missing
    warmup: float = 5.0  # a replica younger than this has no meaningful sample yet
    alarms: tuple[A.Alarm, ...] = ()

    @classmethod
    def from_spec(cls, spec: ScalingSpec) -> Policy:
        targets = tuple((m, t) for m, t in (("cpu", spec.cpu_target), ("memory", spec.memory_target),
                                             ("requests", spec.requests_target)) if t is not None)
        alarms = tuple(A.Alarm.from_spec(a, i) for i, a in enumerate(spec.alarms, 1))
        period = min(a.period for a in alarms) if alarms else spec.period  # one datapoint per alarm period
        return cls(min=spec.min, max=spec.max, targets=targets, tolerance=spec.tolerance, period=period,
                   up_window=spec.scale_up_window, down_window=spec.scale_down_window,
                   stale_after=max(10.0, 2 * period), alarms=alarms)

    @property
    def metrics(self) -> list[str]:
        return sorted({m for m, _ in self.targets} | {a.metric for a in self.alarms})

    @property
    def alarm_lookback(self) -> float:
        return max((a.period * a.evaluation_periods for a in self.alarms), default=0.0)

    def clamp(self, count: int) -> int:
        return max(self.min, min(self.max, count))


@dataclass(frozen=True)
class Replica:
    name: str
    started_at: float


@dataclass(frozen=True)
class Reading:
    """One replica's latest sample of one metric, as a % of its limit (None: no limit to compare to)."""

    replica: str
    metric: str
    value: float | None
    at: float


@dataclass(frozen=True)
class Inputs:
    now: float
    replicas: tuple[Replica, ...]  # the running replicas that serve (the live colour's)
    readings: tuple[Reading, ...] = ()
    history: tuple[tuple[float, int], ...] = ()  # (at, recommendation) of earlier decisions
    override: int | None = None
    alarm_points: tuple[tuple[str, float, float | None], ...] = ()  # (alarm, at, datapoint) of earlier ones
    alarm_states: tuple[tuple[str, str], ...] = ()  # (alarm, state) of the last decision
    last_scaled_at: float | None = None  # when a decision last changed the count (for cooldowns)
    requests: tuple[tuple[float, int], ...] = ()  # (at, total) of the balancer's counter: the last one and now

    @property
    def current(self) -> int:
        return len(self.replicas)


@dataclass(frozen=True)
class Decision:
    at: float
    current: int
    desired: int
    recommendation: int  # before stabilisation and clamping; what later windows look back at
    action: str  # scale-out | scale-in | hold
    reason: str
    metrics: dict[str, float | None] = field(default_factory=dict)  # mean % of the replicas with samples
    samples: dict[str, dict[str, float | None]] = field(default_factory=dict)  # metric -> replica -> %
    missing: tuple[str, ...] = ()
    up_recommendation: int | None = None
    down_recommendation: int | None = None
    override: int | None = None
    alarms: tuple[A.AlarmResult, ...] = ()
    inputs: Inputs | None = None  # everything decide() read: replaying it gives this decision again

    def record(self) -> dict[str, Any]:
        return asdict(self)


def inputs_from_record(data: dict[str, Any]) -> Inputs:
    """A stored decision's inputs (record()["inputs"], as JSON) back as Inputs, to replay it."""
    return Inputs(now=data["now"], replicas=tuple(Replica(**r) for r in data["replicas"]),
                  readings=tuple(Reading(**r) for r in data["readings"]),
                  history=tuple((float(at), int(rec)) for at, rec in data["history"]), override=data["override"],
                  alarm_points=tuple((n, float(at), v) for n, at, v in data.get("alarm_points") or ()),
                  alarm_states=tuple((n, st) for n, st in data.get("alarm_states") or ()),
                  last_scaled_at=data.get("last_scaled_at"),
                  requests=tuple((float(at), int(n)) for at, n in data.get("requests") or ()))


def _ceil(value: float) -> int:
    return math.ceil(value - EPSILON)


def request_rate(policy: Policy, counters: Sequence[tuple[float, int]]) -> float | None:
    """Requests per second through the balancer between its last two counter readings; None when
    there is no earlier reading, it is older than 3 periods, or the counter restarted (nginx did)."""
    if len(counters) < 2:
        return None
    (t0, n0), (t1, n1) = counters[-2], counters[-1]
    if not 0 < t1 - t0 <= 3 * policy.period or n1 < n0:
        return None
    return max(0, n1 - n0 - 1) / (t1 - t0)  # less the one request that read the counter


def _metric(policy: Policy, metric: str, target: float, fresh: dict[str, float], names: list[str]
            ) -> tuple[int | None, str]:
    """One metric's recommendation and why; None when no replica has a sample of it."""
    current = len(names)
    if not fresh:
        return None, f"{metric}: no samples"
    missing = [n for n in names if n not in fresh]
    mean = sum(fresh.values()) / len(fresh)
    ratio = mean / target
    unit = " req/s per replica" if metric == "requests" else "%"
    head = f"{metric} {mean:.1f}{unit} of target {target:g}{unit}"
    if abs(ratio - 1) <= policy.tolerance:
        return current, f"{head}: within the {policy.tolerance:.0%} tolerance"
    if ratio > 1:
        if missing:  # replicas without samples count as idle while growing
            ratio = sum(fresh.values()) / current / target
            if ratio <= 1 + policy.tolerance:
                return current, f"{head}, {len(missing)} replica(s) without samples counted as 0%: hold"
        want = _ceil(sum(fresh.values()) / target)
        return want, f"{head}: ceil({sum(fresh.values()):.1f} / {target:g}) = {want}"
    if missing:
        return current, f"{head}, but {len(missing)} replica(s) have no fresh sample: never shrink on missing data"
    want = _ceil(current * ratio)
    return want, f"{head}: ceil({current} x {mean:.1f} / {target:g}) = {want}"


def decide(policy: Policy, inputs: Inputs) -> Decision:
    now, current = inputs.now, inputs.current
    names = [r.name for r in inputs.replicas]
    warm = {r.name for r in inputs.replicas if now - r.started_at >= policy.warmup}
    samples: dict[str, dict[str, float | None]] = {}
    metrics: dict[str, float | None] = {}
    missing: set[str] = set()
    fresh_by_metric: dict[str, dict[str, float]] = {}
    for metric in policy.metrics:
        if metric == "requests":  # the balancer spreads them over every serving replica, warm or not
            rate = request_rate(policy, inputs.requests)
            fresh = {} if rate is None or not names else {n: round(rate / len(names), 3) for n in names}
        else:
            fresh = {r.replica: r.value for r in inputs.readings if r.metric == metric and r.replica in warm
                     and r.value is not None and now - r.at <= policy.stale_after}
        fresh_by_metric[metric] = fresh  # type: ignore[assignment]
        samples[metric] = {n: fresh.get(n) for n in names}
        missing |= {n for n in names if n not in fresh}
        metrics[metric] = round(sum(fresh.values()) / len(fresh), 2) if fresh else None  # type: ignore[arg-type]
    recs: list[int] = []
    why: list[str] = []
    for metric, target in policy.targets:
        rec, text = _metric(policy, metric, target, fresh_by_metric[metric], names)
        why.append(text)
        if rec is not None:
            recs.append(rec)
    results = _alarms(policy, inputs, fresh_by_metric, names) if policy.alarms and current else ()

    if inputs.override is not None:
        recommendation = inputs.override
        reason = f"manual override {inputs.override}"
    elif current == 0:
        recommendation, reason = 0, "no replica of the live release runs: deploy first"
    elif policy.alarms:
        recommendation, reason = A.combine(current, results, policy.alarms, now, inputs.last_scaled_at)
    elif not recs:
        recommendation, reason = current, "no fresh samples (is the agent running?): hold"
    else:
        recommendation, reason = max(recs), "; ".join(why)

    if policy.alarms and inputs.override is None:  # cooldowns, not windows, keep alarms from flapping
        up = down = None
        stable = recommendation
    elif inputs.override is not None or current == 0:
        up = down = None
        stable = recommendation if inputs.override is not None else current
    else:
        past = [(at, rec) for at, rec in inputs.history if at <= now]
        up = min([recommendation] + [rec for at, rec in past if at > now - policy.up_window])
        down = max([recommendation] + [rec for at, rec in past if at > now - policy.down_window])
        stable = min(max(current, up), down)
        if stable > recommendation:
            reason += f"; held at {stable} by the {policy.down_window:g}s scale-down window"
        elif stable < recommendation:
            reason += f"; {stable} by the {policy.up_window:g}s scale-up window"
    desired = policy.clamp(stable) if current or inputs.override is not None else 0
    if desired != stable:
        reason += f"; clamped to {'max' if desired < stable else 'min'} {desired}"
    action = "scale-out" if desired > current else "scale-in" if desired < current else "hold"
    return Decision(at=now, current=current, desired=desired, recommendation=recommendation, action=action,
                    reason=reason, metrics=metrics, samples=samples, missing=tuple(sorted(missing)),
                    up_recommendation=up, down_recommendation=down, override=inputs.override,
                    alarms=tuple(results), inputs=inputs)


def _alarms(policy: Policy, inputs: Inputs, fresh: dict[str, dict[str, float]], names: list[str]
            ) -> tuple[A.AlarmResult, ...]:
    previous = dict(inputs.alarm_states)
    out = []
    for alarm in policy.alarms:
        value = A.datapoint(alarm, fresh[alarm.metric], names)
        points = [(at, v) for n, at, v in inputs.alarm_points if n == alarm.name and at < inputs.now]
        out.append(A.evaluate(alarm, [*points, (inputs.now, value)], inputs.now, previous.get(alarm.name, "")))
    return tuple(out)


def window_history(events: Sequence[dict[str, Any]]) -> tuple[tuple[float, int], ...]:
    """The (at, recommendation) pairs of stored decisions, oldest first."""
    return tuple(sorted((float(e["at"]), int(e["recommendation"])) for e in events))


def alarm_history(events: Sequence[dict[str, Any]]) -> tuple[tuple[tuple[str, float, float | None], ...],
                                                             tuple[tuple[str, str], ...]]:
    """From stored decisions (newest first): every alarm datapoint (alarm, at, value) and the
    alarms' states in the newest decision that evaluated them."""
    points: list[tuple[str, float, float | None]] = []
    states: tuple[tuple[str, str], ...] = ()
    for event in events:
        results = (event.get("inputs") or {}).get("alarms") or []
        points += [(r["name"], float(event["at"]), r["value"]) for r in results]
        if results and not states:
            states = tuple((r["name"], r["state"]) for r in results)
    return tuple(sorted(points, key=lambda p: (p[1], p[0]))), states

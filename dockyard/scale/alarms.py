"""Pure threshold alarms with step adjustments, the way a CloudWatch alarm drives an Auto Scaling group.

No I/O. Every evaluation of a service gives each alarm one datapoint: the alarm's statistic over
the serving replicas' fresh samples of its metric. The alarm looks at its last `evaluation_periods`
periods (one datapoint each, the latest one in the period; none: missing) and is in ALARM when at
least `datapoints_to_alarm` of them breach the threshold. Missing datapoints count as `missing_data`
says: `missing` (left out; none at all: INSUFFICIENT_DATA), `ignore` (the previous state holds),
`breaching` or `not-breaching`. In ALARM, the step whose range holds how far the latest datapoint
is beyond the threshold gives the change in replicas.

A scale-in alarm never acts on missing data: its datapoint is missing unless every serving replica
has a fresh sample, and it changes nothing without a datapoint of its own in this evaluation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.spec import AlarmSpec

OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"


@dataclass(frozen=True)
class Step:
    lower: float  # how far beyond the threshold, from (inclusive) ...
    upper: float | None  # ... to (exclusive); None: no upper bound
    change: int  # replicas to add (> 0) or remove (< 0)

    def holds(self, beyond: float) -> bool:
        return beyond >= self.lower and (self.upper is None or beyond < self.upper)


@dataclass(frozen=True)
class Alarm:
    name: str
    metric: str  # cpu | memory | requests
    statistic: str  # average | maximum | minimum | sum
    comparison: str  # above | below
    threshold: float
    period: float
    evaluation_periods: int
    datapoints_to_alarm: int
    missing_data: str  # missing | ignore | breaching | not-breaching
    steps: tuple[Step, ...]
    cooldown: float

    @classmethod
    def from_spec(cls, spec: AlarmSpec, index: int) -> Alarm:
        return cls(name=spec.name or f"{spec.metric}-{spec.comparison}-{index}", metric=spec.metric,
                   statistic=spec.statistic, comparison=spec.comparison, threshold=spec.threshold,
                   period=spec.period, evaluation_periods=spec.evaluation_periods,
                   datapoints_to_alarm=spec.datapoints_to_alarm or spec.evaluation_periods,
                   missing_data=spec.missing_data,
                   steps=tuple(Step(s.lower, s.upper, s.change) for s in spec.steps), cooldown=spec.cooldown)

    @property
    def scales_in(self) -> bool:
        return all(step.change < 0 for step in self.steps)

    def beyond(self, value: float) -> float:
        """How far past the threshold, in the breaching direction (negative: not breaching)."""
        return value - self.threshold if self.comparison == "above" else self.threshold - value

    def breaches(self, value: float) -> bool:
        return self.beyond(value) >= 0

    def step(self, value: float) -> Step | None:
        return next((s for s in self.steps if s.holds(self.beyond(value))), None)


@dataclass(frozen=True)
class AlarmResult:
    name: str
    state: str
    value: float | None  # this evaluation's datapoint
    breaching: int  # of the periods looked at
    periods: int
    missing: int
    change: int  # 0 unless in ALARM with a step that holds the latest datapoint
    reason: str


def statistic(name: str, values: Sequence[float]) -> float | None:
    if not values:
        return None
    if name == "maximum":
        return max(values)
    if name == "minimum":
        return min(values)
    if name == "sum":
        return sum(values)
    return sum(values) / len(values)


def datapoint(alarm: Alarm, values: dict[str, float], replicas: Sequence[str]) -> float | None:
    """The alarm's datapoint from each serving replica's fresh value (None: missing)."""
    if not replicas or not values:
        return None
    if alarm.scales_in and any(r not in values for r in replicas):
        return None  # a replica we cannot see may be the busy one: never shrink on partial data
    return statistic(alarm.statistic, [values[r] for r in replicas if r in values])


def periods(alarm: Alarm, points: Sequence[tuple[float, float | None]], now: float) -> list[float | None]:
    """The latest datapoint of each of the last `evaluation_periods` periods, newest first."""
    out: list[float | None] = []
    for k in range(alarm.evaluation_periods):
        end, start = now - k * alarm.period, now - (k + 1) * alarm.period
        inside = [(at, v) for at, v in points if start < at <= end and v is not None]
        out.append(max(inside)[1] if inside else None)
    return out


def evaluate(alarm: Alarm, points: Sequence[tuple[float, float | None]], now: float, previous: str
             ) -> AlarmResult:
    """The alarm's state at `now` from its datapoints (at, value) including this evaluation's."""
    latest = next((v for at, v in points if at == now), None)
    window = periods(alarm, points, now)
    missing = sum(1 for v in window if v is None)
    verdicts: list[bool] = []
    for value in window:
        if value is not None:
            verdicts.append(alarm.breaches(value))
        elif alarm.missing_data == "breaching":
            verdicts.append(True)
        elif alarm.missing_data == "not-breaching":
            verdicts.append(False)
    breaching = sum(verdicts)
    sign = ">=" if alarm.comparison == "above" else "<="
    head = (f"{alarm.name}: {alarm.statistic} {alarm.metric} "
            f"{'missing' if latest is None else f'{latest:.4g}'} ({sign} {alarm.threshold:g} "
            f"in {breaching} of {len(window)} periods, {alarm.datapoints_to_alarm} to alarm")
    head += f", {missing} missing)" if missing else ")"
    if not verdicts:
        state = previous if alarm.missing_data == "ignore" and previous else INSUFFICIENT
    else:
        state = ALARM if breaching >= alarm.datapoints_to_alarm else OK
    change, why = 0, state
    if state == ALARM:
        if latest is None:
            why = "ALARM, but no datapoint now: no change"
        elif (step := alarm.step(latest)) is None:
            why = "ALARM, but no step holds the datapoint: no change"
        else:
            change = step.change
            why = f"ALARM: step {step.lower:g}..{'' if step.upper is None else f'{step.upper:g}'} -> {change:+d}"
    return AlarmResult(alarm.name, state, latest, breaching, len(window), missing, change, f"{head}: {why}")


def combine(current: int, results: Sequence[AlarmResult], alarms: Sequence[Alarm], now: float,
            last_scaled_at: float | None) -> tuple[int, str]:
    """The count the alarms ask for: of the alarms that act, the one giving the most replicas wins
    (as Auto Scaling does with several policies); an alarm inside its cooldown does not act."""
    by_name = {a.name: a for a in alarms}
    asks: list[tuple[int, str]] = []
    cooling: list[str] = []
    for result in results:
        if result.change == 0:
            continue
        alarm = by_name[result.name]
        if last_scaled_at is not None and now - last_scaled_at < alarm.cooldown:
            cooling.append(f"{alarm.name} in its {alarm.cooldown:g}s cooldown "
                           f"({now - last_scaled_at:.0f}s since the last scaling)")
            continue
        asks.append((current + result.change, alarm.name))
    reasons = [r.reason for r in results] + cooling
    if not asks:
        return current, "; ".join(reasons)
    count, name = max(asks)
    return count, "; ".join(reasons + [f"{name} wins: {current} -> {max(count, 0)}"])

"""Autoscaling in dockyard.yml: target tracking, or threshold alarms with step adjustments."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from dockyard.spec.base import SpecModel
from dockyard.spec.fields import Count, Duration, Percent, PositiveDuration
from dockyard.spec.hints import fail


class StepSpec(SpecModel):
    # How far beyond the threshold the datapoint is, [lower, upper), and the replicas to add or remove.
    lower: Annotated[float, Field(ge=0)] = 0.0
    upper: Annotated[float, Field(gt=0)] | None = None
    change: int = Field(description="replicas to add (e.g. 2) or remove (e.g. -1), not 0")

    @field_validator("change")
    @classmethod
    def _nonzero(cls, value: int) -> int:
        if value == 0:
            raise fail("must add (> 0) or remove (< 0) replicas, got 0")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> StepSpec:
        if self.upper is not None and self.upper <= self.lower:
            raise fail(f"upper ({self.upper:g}) must be above lower ({self.lower:g})")
        return self


class AlarmSpec(SpecModel):
    """A threshold alarm with step adjustments (dockyard/scale/alarms.py)."""

    name: str | None = None
    metric: Literal["cpu", "memory", "requests"]  # % of the limit as for the targets; requests/s per replica
    statistic: Literal["average", "maximum", "minimum", "sum"] = "average"
    comparison: Literal["above", "below"]
    threshold: Annotated[float, Field(ge=0)]
    period: PositiveDuration = 15.0
    evaluation_periods: Annotated[int, Field(ge=1)] = 1
    datapoints_to_alarm: Annotated[int, Field(ge=1)] | None = None  # default: evaluation_periods
    missing_data: Literal["missing", "ignore", "breaching", "not-breaching"] = "missing"
    steps: list[StepSpec] = Field(min_length=1)
    cooldown: Duration = 300.0

    @model_validator(mode="after")
    def _consistent(self) -> AlarmSpec:
        if self.datapoints_to_alarm is not None and self.datapoints_to_alarm > self.evaluation_periods:
            raise fail(f"datapoints_to_alarm ({self.datapoints_to_alarm}) must be <= evaluation_periods "
                       f"({self.evaluation_periods})")
        signs = {step.change > 0 for step in self.steps}
        if len(signs) > 1:
            raise fail("steps must all add or all remove replicas; use one alarm for each direction")
        if signs == {False} and self.missing_data == "breaching":
            raise fail("missing_data: breaching on an alarm that removes replicas would scale in on missing "
                       "metrics; use missing, ignore or not-breaching")
        ordered = sorted(self.steps, key=lambda s: s.lower)
        for a, b in zip(ordered, ordered[1:], strict=False):
            if a.upper is None or a.upper > b.lower:
                raise fail(f"steps overlap: {a.lower:g}..{'' if a.upper is None else f'{a.upper:g}'} and "
                           f"{b.lower:g}..{'' if b.upper is None else f'{b.upper:g}'}")
        return self


class ScalingSpec(SpecModel):
    min: Count = Field(description="the fewest replicas, e.g. 1")
    max: Count = Field(description="the most replicas, e.g. 10")
    cpu_target: Percent | None = None  # % of the service's cpus limit (of one core without a limit)
    memory_target: Percent | None = None  # % of the memory limit
    requests_target: Annotated[float, Field(gt=0)] | None = None  # requests/s per replica through the balancer
    # Or threshold alarms with step adjustments instead of targets.
    alarms: list[AlarmSpec] = Field(default_factory=list)
    # Target tracking (dockyard/scale/policy.py): evaluated every `period`; a ratio within `tolerance`
    # of 1 keeps the count; growth takes the lowest recommendation of the up window, shrinking the
    # highest of the down window (Kubernetes' HPA behaviour).
    period: PositiveDuration = 15.0
    tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.1
    scale_up_window: Duration = 0.0
    scale_down_window: Duration = 300.0

    @field_validator("max")
    @classmethod
    def _above_min(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min")
        if low is not None and value < low:
            raise fail(f"must be >= min ({low}), got {value}")
        return value

    @model_validator(mode="after")
    def _has_target(self) -> ScalingSpec:
        targets = any(t is not None for t in (self.cpu_target, self.memory_target, self.requests_target))
        if not targets and not self.alarms:
            raise fail("needs cpu_target or memory_target (a percentage 1..100), requests_target (requests/s "
                       "per replica), or alarms, to scale on")
        if targets and self.alarms:
            raise fail("scales either by targets (cpu_target, memory_target, requests_target) or by alarms, "
                       "not both")
        return self

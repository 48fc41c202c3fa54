"""A canary release (issue 32): the new release beside the stable one at the host's edge, a share of
the requests at a time (`steps`), judged from live metrics between the steps and during each pause
(`analysis`), aborted by itself when the analysis fails."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from dockyard.spec.base import SpecModel
from dockyard.spec.fields import PositiveDuration, _lower_name
from dockyard.spec.hints import fail, show

# what goes into the edge's configuration as a header or cookie name: a plain token
_HEADER = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_COOKIE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def _number(value: object) -> object:
    """A threshold is a number: `true` or "1%" are refused, not read as 1."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(f"must be a number, got {show(value)}")
    return value


def _weight(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail(f"must be a whole percentage from 0 to 100, got {show(value)}")
    if not 0 <= value <= 100:
        raise fail(f"must be from 0 to 100 (a percentage of the requests), got {value}")
    return value


Number = Annotated[float, BeforeValidator(_number), Field(ge=0)]
Ratio = Annotated[float, BeforeValidator(_number), Field(ge=0, le=1)]
Factor = Annotated[float, BeforeValidator(_number), Field(gt=0)]
Weight = Annotated[int, BeforeValidator(_weight)]
QueryName = Annotated[str, _lower_name("query name", 31)]


class CanaryStep(SpecModel):
    weight: Weight = Field(description="the canary's share of the requests, in percent")
    pause: PositiveDuration = Field(description="how long it stays at this weight, judged meanwhile, e.g. 2m")


class MatchSpec(SpecModel):
    """Testers reach the canary on purpose, whatever the weight: the header or cookie set to `always`
    (`never`: the stable release)."""

    header: str | None = None
    cookie: str | None = None

    @field_validator("header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not isinstance(value, str) or not _HEADER.fullmatch(value):
            raise fail(f"must be a header name (letters, digits and '-'), got {show(value)}")
        return value

    @field_validator("cookie")
    @classmethod
    def _cookie(cls, value: str) -> str:
        if not isinstance(value, str) or not _COOKIE.fullmatch(value):
            raise fail(f"must be a cookie name (letters, digits, '-' and '_'), got {show(value)}")
        return value


class QuerySpec(SpecModel):
    """A PromQL query the site's Prometheus answers with one number, asked for each release: `{app}`,
    `{env}`, `{release}` (the release's id), `{color}` and `{window}` (the step so far, e.g. 45s) are
    filled in. The canary's number is judged absolutely (`max`), against the stable's (`max_ratio`), or both."""

    name: QueryName
    query: Annotated[str, Field(min_length=1, max_length=2000)]
    max: Number | None = None
    max_ratio: Factor | None = None

    @model_validator(mode="after")
    def _a_limit(self) -> QuerySpec:
        if self.max is None and self.max_ratio is None:
            raise fail("needs max: (the canary's number) or max_ratio: (over the stable's), or both")
        return self


class AnalysisSpec(SpecModel):
    """Thresholds on the canary's window of requests at the edge (the same window of the stable
    release beside it): absolute, relative to stable, or both. A window with fewer than
    `min_requests` of the canary is inconclusive: it waits for more, or fails (`inconclusive`)."""

    max_5xx_ratio: Ratio | None = 0.01
    max_p95_ms: Number | None = None
    max_p99_ms: Number | None = None
    max_latency_ratio: Factor | None = None  # the canary's p95 over the stable's
    max_p99_ratio: Factor | None = None
    # latencies under this count as this in a ratio: 1 ms against 2 ms is no regression
    latency_floor_ms: Number = 10.0
    # from the host agent's samples (its /api/stats, the site's agent): CPU and memory per replica,
    # the canary's mean over the stable's; CPU under cpu_floor_percent counts as that much
    max_cpu_ratio: Factor | None = None
    max_memory_ratio: Factor | None = None
    cpu_floor_percent: Number = 5.0
    # asked of the site's Prometheus (settings: prometheus_url) every interval, for both releases
    queries: list[QuerySpec] = Field(default_factory=list)
    min_requests: Annotated[int, Field(ge=1)] = 20
    inconclusive: Literal["wait", "fail"] = "wait"
    interval: PositiveDuration = 5.0  # seconds between two looks during a pause


class CanarySpec(SpecModel):
    steps: list[CanaryStep] = Field(min_length=1)
    sticky: bool = True  # a client that saw the canary keeps seeing it (a cookie)
    match: MatchSpec | None = None
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec)

    @field_validator("steps")
    @classmethod
    def _rising(cls, steps: list[CanaryStep]) -> list[CanaryStep]:
        for before, after in zip(steps, steps[1:], strict=False):
            if after.weight <= before.weight:
                raise fail(f"weights must rise from step to step: {before.weight} then {after.weight}")
        return steps


class WatchSpec(AnalysisSpec):
    """A release switched whole (blue-green, rolling, recreate) judged for `for` once it is live: its
    requests at the edge against the release before's, from the same span before the deploy began. A
    failure brings the release before back by itself (blue-green: a switch back to its colour)."""

    for_: PositiveDuration = Field(alias="for", description="how long the new release is watched, e.g. 5m")

    @field_validator("queries")
    @classmethod
    def _no_queries(cls, value: list[QuerySpec]) -> list[QuerySpec]:
        if value:
            raise fail("Prometheus queries judge a canary's steps (canary: analysis:), not a watch")
        return value

"""Preview environments (issue 33): one environment per pull request, `pr-N`, made from another one.

`previews:` is policy, like the other fields a commit does not decide (spec/bounds.py): what a
pull request's preview copies, under which name it answers, how long it lives and how many there
may be come from the default branch. A preview is the `from` environment with its own name at the
edge and nothing that is only the stable environment's: no fixed host ports (a balancer pair's or a
canary's), no autoscaling, no watch. Its replicas are replaced in place, through the edge.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from dockyard.spec.base import SpecModel
from dockyard.spec.fields import ConfigKey, EnvName, PositiveDuration, _hostname
from dockyard.spec.hints import fail, show
from dockyard.vocabulary import preview_name, preview_number

__all__ = ["PLACEHOLDER", "PREVIEW_STRATEGY", "PreviewsSpec", "preview_name", "preview_number"]

PLACEHOLDER = "{number}"
# the strategy a preview of an environment uses when the environment's own needs what a preview
# has not: host ports for a balancer pair (blue-green), a stable release to compare (canary)
PREVIEW_STRATEGY = "rolling"


class PreviewsSpec(SpecModel):
    source: EnvName = Field(alias="from", description="the environment a preview copies: configuration, "
                                                     "accessories, engine, tests")
    domain: str = Field(description='the preview\'s name at the edge, e.g. "pr-{number}.preview.example.com"')
    ttl: PositiveDuration = Field(default=3 * 86400.0, description="taken down this long after its last update")
    max: int = Field(default=10, description="how many previews may run at once")
    data: Literal["empty", "snapshot"] = "empty"
    config: dict[ConfigKey, str] = Field(default_factory=dict, description="configuration set over the copied one")

    model_config = SpecModel.model_config | {"populate_by_name": True}

    @field_validator("domain")
    @classmethod
    def _template(cls, value: object) -> str:
        if not isinstance(value, str) or PLACEHOLDER not in value:
            raise fail(f"must hold {PLACEHOLDER} (each pull request its own name), got {show(value)}")
        if value.count(PLACEHOLDER) > 1:
            raise fail(f"must hold {PLACEHOLDER} once, got {show(value)}")
        sample = value.replace(PLACEHOLDER, "7")
        if "{" in sample or "}" in sample:
            raise fail(f"may hold {PLACEHOLDER} and nothing else in braces, got {show(value)}")
        _hostname(sample)  # the check of domains:, on a sample number
        return value.strip().rstrip(".").lower()

    @field_validator("max", mode="before")
    @classmethod
    def _at_least_one(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise fail(f"must be a whole number of 1 or more (how many previews at once), got {show(value)}")
        return value

    def domain_of(self, number: int) -> str:
        return self.domain.replace(PLACEHOLDER, str(number))

    def matches(self, host: str) -> bool:
        """Whether `host` is a name some preview would answer under."""
        head, _, tail = self.domain.partition(PLACEHOLDER)
        return re.fullmatch(re.escape(head) + r"[0-9]+" + re.escape(tail), host) is not None

"""Alert rules of dockyard.yml (`alerts:`): what the monitoring agent turns into events."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from dockyard.spec.fields import Duration


class Labelled(Protocol):
    """What a rule matches on: a monitor Sample has these (spec knows nothing of the monitor)."""

    @property
    def app(self) -> str | None: ...
    @property
    def env(self) -> str | None: ...
    @property
    def service(self) -> str | None: ...

DEFAULT_ABOVE = {"memory": 90.0, "cpu": 90.0, "restarting": 0.0}


class AlertRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    when: Literal["down", "restarting", "memory", "probe", "cpu"]
    above: float | None = None
    for_: Duration = Field(default=0.0, alias="for")
    window: Duration = 300.0  # restarting: restarts within this long
    app: str | None = None
    env: str | None = None
    service: str | None = None

    def threshold(self) -> float:
        return self.above if self.above is not None else DEFAULT_ABOVE.get(self.when, 0.0)

    def applies(self, s: Labelled) -> bool:
        return all(want is None or want == have for want, have in
                   ((self.app, s.app), (self.env, s.env), (self.service, s.service)))

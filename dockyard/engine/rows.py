"""One row of what runs, a container or a Swarm task, as `ps`, the planners and resume read it."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.plan.deploy import Observed

__all__ = ["Running"]


@dataclass(frozen=True)
class Running(Observed):
    env: str = ""
    app: str = ""
    state: str = ""
    url: str | None = None
    commit: str | None = None
    node: str = ""  # the Swarm node a task runs on

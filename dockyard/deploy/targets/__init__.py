"""Where a release runs: one Target per kind of placement, chosen by the environment's engine.

A Target knows its engine's objects (containers on one engine, services of a Swarm) and offers
what every strategy needs: `describe` a prepared release as what it starts, `observe` what runs,
`plan` and `apply` an in-place change, start a colour, and `route` the host's edge to what
answers. A new placement is one module here plus its line in `TARGETS`; nothing else asks which
kind an engine is.
"""

from __future__ import annotations

from dockyard.deploy.outcome import DeployContext
from dockyard.deploy.targets.base import Target
from dockyard.deploy.targets.containers import ContainerTarget
from dockyard.deploy.targets.swarm import SwarmTarget
from dockyard.engine.client import Engine

__all__ = ["TARGETS", "Target", "target_for"]

TARGETS: dict[str, type[Target]] = {"containers": ContainerTarget, "swarm": SwarmTarget}


def target_kind(engine: Engine) -> str:
    """The kind of placement an engine offers: a Swarm manager runs services, any other containers."""
    return "swarm" if engine.config.swarm else "containers"


def target_for(ctx: DeployContext, engine: Engine, env: str) -> Target:
    return TARGETS[target_kind(engine)](ctx, engine, env)

"""Where a release runs: one Target per kind of placement, chosen by the environment's engine.

A Target knows its engine's objects (containers on one engine, services of a Swarm) and offers
what every strategy needs: `describe` a prepared release as what it starts, `observe` what runs,
`plan` and `apply` an in-place change, start a colour, and `route` the host's edge to what
answers. A new placement is one module here plus its line in `TARGETS` and its kind in
engine/placement.py; nothing else asks which kind an engine is.
"""

from __future__ import annotations

from dockyard.deploy.outcome import PlacingContext
from dockyard.deploy.targets.base import Target
from dockyard.deploy.targets.containers import ContainerTarget
from dockyard.deploy.targets.swarm import SwarmTarget
from dockyard.engine.interface import Engine
from dockyard.engine.placement import placement

__all__ = ["TARGETS", "Target", "target_for"]

TARGETS: dict[str, type[Target]] = {cls.kind: cls for cls in (ContainerTarget, SwarmTarget)}


def target_for(ctx: PlacingContext, engine: Engine, env: str) -> Target:
    """The Target of the engine's kind of placement (engine/placement.py)."""
    return TARGETS[placement(engine).kind](ctx, engine, env)

"""What kind of placement an engine offers, and what that kind can do: the one place that asks an
engine's settings whether it is a Swarm manager. Deploy's targets (deploy/targets/) are chosen by
this kind; the other layers ask its traits, never the settings."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.engine.interface import Engine

__all__ = ["CONTAINERS", "SWARM", "Placement", "placement"]


@dataclass(frozen=True)
class Placement:
    kind: str  # the name of its Target in deploy/targets/
    hosts_accessories: bool  # accessories and their backups run in this engine's containers
    spread_over_nodes: bool  # replicas run on several nodes, each with its own agent
    volume_release: float  # seconds a volume may stay in use once its replicas are gone
    keeps_count: bool  # the engine keeps a service's replica count itself: scaling sets the count


CONTAINERS = Placement("containers", hosts_accessories=True, spread_over_nodes=False, volume_release=0.0,
                       keeps_count=False)
SWARM = Placement("swarm", hosts_accessories=False, spread_over_nodes=True, volume_release=60.0, keeps_count=True)


def placement(engine: Engine) -> Placement:
    return SWARM if engine.config.swarm else CONTAINERS

"""What runs on each colour of a blue-green environment, read back from the engine's labels.

The balancer's upstreams are always built from this (never from memory): the published
address of every running replica of the routed service, per colour. Containers publish on
127.0.0.1; a Swarm colour's tasks on their node's publish address (dockyard/router/swarm_fleet.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from dockyard.engine import labels as L
from dockyard.engine.facts import ReplicaFacts
from dockyard.engine.interface import Engine
from dockyard.errors import DeployError
from dockyard.plan.bluegreen import COLORS, ColorFacts, Facts
from dockyard.router.render import RouterState, Side
from dockyard.spec.brief import routed_name

if TYPE_CHECKING:
    from dockyard.spec import AppSpec


@dataclass(frozen=True)
class Replica:
    id: str
    name: str
    service: str
    replica: int
    color: str
    release: str
    config_hash: str
    running: bool
    port: int | None  # the published port (a blue-green service publishes one)
    host: str = "127.0.0.1"  # where the port answers: 127.0.0.1, or a Swarm task's node publish address
    health: str | None = None  # the engine's verdict where the spec gives a health command: healthy, ...
    worker: bool = False  # its service has no port: nothing routes to it
    container: str = ""  # the container's id: `id` itself, or a Swarm task's container (once it has one)

    @property
    def parked(self) -> bool:
        """A worker of a standby colour, stopped until a rollback starts it again."""
        return self.worker and not self.running

    @property
    def address(self) -> str | None:
        return f"{self.host}:{self.port}" if self.port else None


def routed_service(spec: AppSpec) -> str:
    """The service behind the balancer: the first one with a port."""
    name = routed_name({n: s.port for n, s in spec.services.items()})
    if name is not None:
        return name
    raise DeployError(f"{spec.app}: blue-green needs a service with a port for the balancer to send traffic to",
                      hint="add port: to the web service in dockyard.yml")


def to_replica(facts: ReplicaFacts) -> Replica | None:
    labels = facts.labels
    color = labels.get(L.COLOR)
    if color not in COLORS:
        return None
    return Replica(id=facts.id, name=facts.name, service=facts.service,
                   replica=int(labels.get(L.REPLICA, "0") or 0), color=color,
                   release=labels.get(L.RELEASE, ""), config_hash=labels.get(L.CONFIG_HASH, ""),
                   running=facts.status == "running" and not facts.restarting,
                   port=facts.loopback_port(), health=facts.health, worker=not facts.publishes, container=facts.id)


def list_replicas(engine: Engine, app: str, env: str) -> list[Replica]:
    """The environment's coloured replicas from the engine's listing; a stopped one (a parked worker,
    a crashed replica) inspected too, as only its inspect says whether it publishes a port."""
    listed = engine.list_replicas(app, env, detail=False)
    stopped = [c.id for c in listed if c.labels.get(L.COLOR) in COLORS and c.status != "running"]
    inspected = {c.id: c for c in (engine.inspect_replica(i) for i in stopped) if c is not None}
    found = (to_replica(inspected.get(c.id, c)) for c in listed if c.id not in stopped or c.id in inspected)
    return sorted((r for r in found if r is not None), key=lambda r: (r.color, r.service, r.replica))


class Fleet(Protocol):
    """Where a blue-green environment's colours run: containers on one engine, or Swarm services."""

    def replicas(self) -> list[Replica]: ...

    def remove(self, doomed: list[Replica], grace: dict[str, float]) -> None:
        """Stop and remove these replicas (already out of the balancer and drained)."""

    def remove_color(self, color: str, grace: dict[str, float]) -> int:
        """Stop and remove everything of one colour; how many replicas that was."""

    def park(self, workers: list[Replica], grace: dict[str, float]) -> None:
        """Stop these workers of a standby colour, keeping them to start again."""

    def unpark(self, workers: list[Replica]) -> list[ReplicaFacts]:
        """Start parked workers again; the containers, for a health wait."""


class ContainerFleet:
    def __init__(self, engine: Engine, app: str, env: str) -> None:
        self.engine, self.app, self.env = engine, app, env

    def replicas(self) -> list[Replica]:
        return list_replicas(self.engine, self.app, self.env)

    def remove(self, doomed: list[Replica], grace: dict[str, float]) -> None:
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(doomed)))) as pool:
            list(pool.map(lambda r: self._remove(r, grace.get(r.service, 10.0)), doomed))

    def remove_color(self, color: str, grace: dict[str, float]) -> int:
        doomed = [r for r in self.replicas() if r.color == color]
        self.remove(doomed, grace)
        return len(doomed)

    def _remove(self, replica: Replica, grace: float) -> None:
        self.engine.stop_and_remove(replica.id, replica.name, grace)

    def park(self, workers: list[Replica], grace: dict[str, float]) -> None:
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(workers)))) as pool:
            list(pool.map(lambda r: self.engine.stop_replica(r.id, r.name, grace.get(r.service, 10.0)), workers))

    def unpark(self, workers: list[Replica]) -> list[ReplicaFacts]:
        return [self.engine.start_again(r.id, r.name) for r in workers]



def color_facts(replicas: Iterable[Replica], color: str) -> ColorFacts:
    mine = [r for r in replicas if r.color == color]
    return ColorFacts(releases=frozenset(r.release for r in mine),
                      config_hashes=frozenset(r.config_hash for r in mine),
                      containers=len(mine), running=sum(r.running for r in mine),
                      parked=sum(r.parked for r in mine), workers=sum(r.worker for r in mine))


def side(replicas: Iterable[Replica], color: str, service: str) -> Side | None:
    """The colour as the balancer sees it; None when none of its replicas serves."""
    mine = [r for r in replicas if r.color == color and r.service == service and r.running and r.address]
    if not mine:
        return None
    return Side(color, ",".join(sorted({r.release for r in mine})), tuple(sorted(r.address for r in mine if r.address)))


def kept(replicas: Iterable[Replica], color: str, service: str, known: Iterable[Side | None]) -> Side:
    """The colour as the balancer sees it. One none of whose replicas serves now (its engine is
    restarting, say) keeps its place with no server, its listener answering 503, so which colour
    is live is never forgotten; `known`: the sides the balancer had, for its release."""
    found = side(replicas, color, service)
    if found is not None:
        return found
    return Side(color, next((s.release for s in known if s is not None and s.color == color), ""), ())


def rebuilt(state: RouterState, replicas: list[Replica]) -> RouterState:
    """Pure: the state's colours on the addresses their replicas have now."""
    def now(old: Side | None) -> Side | None:
        if old is None or state.service is None:
            return old
        return kept(replicas, old.color, state.service, [old])

    return replace(state, live=now(state.live), preview=now(state.preview))


def drift(before: RouterState, after: RouterState) -> list[str]:
    """Pure: what differs between the upstreams a balancer has and the ones it should have."""
    found = []
    for listener in ("live", "preview"):
        old, new = getattr(before, listener), getattr(after, listener)
        if (old.servers if old else ()) != (new.servers if new else ()):
            was = ", ".join(old.servers) if old and old.servers else "nothing"
            now = ", ".join(new.servers) if new and new.servers else "nothing"
            color = (new or old).color if (new or old) else "?"
            found.append(f"{listener} ({color}) pointed at {was}; its replicas are at {now}")
    return found


def facts(state: RouterState | None, running: bool, replicas: list[Replica], now: float) -> Facts:
    return Facts(live=state.live.color if state and state.live else None,
                 preview=state.preview.color if state and state.preview else None,
                 switched_at=state.switched_at if state else None, router_running=running,
                 colors={c: color_facts(replicas, c) for c in COLORS}, now=now)

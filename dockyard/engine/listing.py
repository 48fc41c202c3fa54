"""The reads `ps`, `status` and `logs` make of an engine, over engine/wire.py: a listing by
Dockyard's labels, alone where a row is all that is asked (`listed`), else with an inspect of each
container found (the same inspect JSON docker-py reads, so the same parsers make the same facts)."""

from __future__ import annotations

from dockyard.engine import labels as L
from dockyard.engine.facts import AccessoryState, ReplicaFacts, accessory_state, listed_replica_facts, replica_facts
from dockyard.engine.wire import Wire

__all__ = ["accessories", "listed", "replicas"]


def replicas(wire: Wire, app: str | None, env: str | None, service: str | None, all: bool) -> list[ReplicaFacts]:
    """The containers of an app (environment, service), stopped ones too with `all`. One removed
    between the listing and its inspect (a scale-in, a deploy) is gone, not an error."""
    found = (wire.inspect_container(c["Id"]) for c in wire.containers(L.scope_filters(app, env, service), all))
    return [replica_facts(attrs) for attrs in found if attrs is not None]


def listed(wire: Wire, app: str | None, env: str | None, service: str | None, all: bool) -> list[ReplicaFacts]:
    """The same containers from the listing alone: one call, whatever their number."""
    return [listed_replica_facts(c) for c in wire.containers(L.scope_filters(app, env, service), all)]


def accessories(wire: Wire, app: str, env: str | None) -> list[AccessoryState]:
    """The app's accessories' containers (of one environment), by environment and name."""
    filters = {"label": [f"{L.APP}={app}", L.ACCESSORY] + ([f"{L.ENV}={env}"] if env else [])}
    found = (wire.inspect_container(c["Id"]) for c in wire.containers(filters))
    return sorted((accessory_state(attrs) for attrs in found if attrs is not None), key=lambda a: (a.env, a.name))

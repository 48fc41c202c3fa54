"""What runs on each colour of a blue-green environment, read back from the engine's labels.

The balancer's upstreams are always built from this (never from memory): the published
127.0.0.1 port of every running replica of the routed service, per colour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import docker.errors
from docker.models.containers import Container

from dockyard.engine import labels as L
from dockyard.engine.client import Engine, engine_error
from dockyard.errors import DeployError
from dockyard.plan.bluegreen import ColorFacts, Facts
from dockyard.router.render import COLORS, RouterState, Side
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
    port: int | None  # the published 127.0.0.1 port (a blue-green service publishes one)


def routed_service(spec: AppSpec) -> str:
    """The service behind the balancer: the first one with a port."""
    for name, service in spec.services.items():
        if service.port:
            return name
    raise DeployError(f"{spec.app}: blue-green needs a service with a port for the balancer to send traffic to",
                      hint="add port: to the web service in dockyard.yml")


def host_port(attrs: dict) -> int | None:
    for bindings in (attrs.get("NetworkSettings", {}).get("Ports") or {}).values():
        for binding in bindings or []:
            if binding.get("HostIp") == "127.0.0.1" and binding.get("HostPort"):
                return int(binding["HostPort"])
    return None


def to_replica(container: Container) -> Replica | None:
    labels = container.labels or {}
    color = labels.get(L.COLOR)
    if color not in COLORS:
        return None
    return Replica(id=container.id or "", name=container.name or "", service=labels.get(L.SERVICE, ""),
                   replica=int(labels.get(L.REPLICA, "0") or 0), color=color,
                   release=labels.get(L.RELEASE, ""), config_hash=labels.get(L.CONFIG_HASH, ""),
                   running=container.status == "running", port=host_port(container.attrs))


def list_replicas(engine: Engine, app: str, env: str) -> list[Replica]:
    try:
        containers = engine.client.containers.list(all=True, filters=L.scope_filters(app, env))
    except docker.errors.DockerException as exc:
        raise engine_error(f"listing containers on engine {engine.name!r}", exc) from None
    found = (to_replica(c) for c in containers)
    return sorted((r for r in found if r is not None), key=lambda r: (r.color, r.service, r.replica))


def color_facts(replicas: Iterable[Replica], color: str) -> ColorFacts:
    mine = [r for r in replicas if r.color == color]
    return ColorFacts(releases=frozenset(r.release for r in mine),
                      config_hashes=frozenset(r.config_hash for r in mine),
                      containers=len(mine), running=sum(r.running for r in mine))


def side(replicas: Iterable[Replica], color: str, service: str) -> Side | None:
    """The colour as the balancer sees it; None when none of its replicas serves."""
    mine = [r for r in replicas if r.color == color and r.service == service and r.running and r.port]
    if not mine:
        return None
    return Side(color, ",".join(sorted({r.release for r in mine})), tuple(sorted(r.port for r in mine if r.port)))


def facts(state: RouterState | None, running: bool, replicas: list[Replica], now: float) -> Facts:
    return Facts(live=state.live.color if state and state.live else None,
                 preview=state.preview.color if state and state.preview else None,
                 switched_at=state.switched_at if state else None, router_running=running,
                 colors={c: color_facts(replicas, c) for c in COLORS}, now=now)

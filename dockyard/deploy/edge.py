"""An environment's names on the host's edge: claimed before a deploy touches anything (a name
another environment holds is refused with its file:line and owner), published once the release
serves. A blue-green environment is served through its balancer's live listener, so its switch
stays the balancer's; a rolling or recreate one through its replicas, which change at the edge
before the old replicas stop (the edge's old workers finish what they hold first)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from dockyard.engine.rows import Running
from dockyard.errors import DeployError
from dockyard.router.edge import Edge, Where
from dockyard.router.edge_render import EdgeRoute
from dockyard.spec import AppSpec

Report = Callable[[str], None]
DRAIN_TIMEOUT = 30.0  # old edge workers finish their requests to the replicas about to stop


class EdgeDoor(Protocol):
    """The host's edge: router.edge.Edge, or a unit test's fake."""

    def check(self, route: EdgeRoute, where: Where) -> None: ...

    def publish(self, route: EdgeRoute, where: Where) -> bool: ...

    def withdraw(self, app: str, env: str) -> bool: ...

    def wait_drained(self, timeout: float) -> bool: ...


def nginx_edge(report: Report) -> EdgeDoor:
    return Edge(report=report)


def where_in(spec: AppSpec, env: str) -> Where:
    """file:line of each of the environment's names in dockyard.yml."""
    env_spec = spec.environment(env)

    def where(name: str) -> str:
        if name in env_spec.domains:
            return spec.where("environments", env, "domains", env_spec.domains.index(name))
        if name in env_spec.redirects:
            return spec.where("environments", env, "redirects", name)
        return spec.where("environments", env, "domains")

    return where


def route_of(spec: AppSpec, env: str, servers: tuple[str, ...], preview: tuple[str, ...] = ()) -> EdgeRoute | None:
    env_spec = spec.environment(env)
    if not env_spec.domains:
        return None
    routed = next((s for s in spec.services.values() if s.port), None)
    health = routed.health.path if routed is not None and routed.health is not None else None
    return EdgeRoute(spec.app, env, tuple(env_spec.domains), servers, env_spec.path, dict(env_spec.redirects),
                     preview, health=health)


def replica_servers(rows: list[Running], service: str, leaving: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """host:port of each running replica of `service`, but those about to leave."""
    return tuple(sorted(row.url.removeprefix("http://") for row in rows
                        if row.service == service and row.running and row.url and row.id not in leaving))


def check_edge(spec: AppSpec, env: str, edge: Callable[[], EdgeDoor]) -> None:
    route = route_of(spec, env, ())
    if route is None:
        return
    if not any(service.port for service in spec.services.values()):
        raise DeployError(f"{where_in(spec, env)(route.domains[0])}: {spec.app}/{env} has domains, but no "
                          "service has a port for the edge to send them to", hint="add port: to the web service")
    edge().check(route, where_in(spec, env))


def publish_edge(spec: AppSpec, env: str, edge: EdgeDoor, report: Report, servers: tuple[str, ...],
                 preview: tuple[str, ...] = ()) -> None:
    """Serve the environment's names from `servers` (an environment without domains: withdrawn)."""
    route = route_of(spec, env, servers, preview)
    if route is None:
        if edge.withdraw(spec.app, env):
            report(f"edge: {spec.app}/{env} has no domains any more: its names are withdrawn")
        return
    if edge.publish(route, where_in(spec, env)):
        names = ", ".join(n for n in (*route.domains, *route.redirects, route.preview_name or "") if n)
        report(f"edge: {names} -> {', '.join(servers) or 'nothing (503)'}")
        edge.wait_drained(DRAIN_TIMEOUT)

"""An environment's names on the host's edge: claimed before a deploy touches anything (a name
another environment holds is refused with its file:line and owner), published once the release
serves. A blue-green environment is served through its balancer's live listener, so its switch
stays the balancer's; a rolling or recreate one through its replicas, which change at the edge
before the old replicas stop (the edge's old process finishes what it holds first)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Protocol

from dockyard.engine.rows import Running
from dockyard.errors import DeployError
from dockyard.notify.emit import record
from dockyard.notify.model import Event
from dockyard.router.edge import Edge, Where
from dockyard.router.edge_render import Canary, EdgeRoute
from dockyard.spec import AppSpec
from dockyard.state.db import StateDB

Report = Callable[[str], None]
DRAIN_TIMEOUT = 30.0  # old edge processes finish their requests (and idle connections) to the replicas about to stop


class EdgeDoor(Protocol):
    """The host's edge: router.edge.Edge, or a unit test's fake."""

    def check(self, route: EdgeRoute, where: Where) -> None: ...

    def publish(self, route: EdgeRoute, where: Where) -> bool: ...

    def withdraw(self, app: str, env: str) -> bool: ...

    def forget_certificates(self, app: str, env: str) -> bool: ...

    def secure(self, route: EdgeRoute) -> tuple[EdgeRoute, str | None]: ...

    def route(self, app: str, env: str) -> EdgeRoute | None: ...

    def wait_drained(self, timeout: float) -> bool: ...

    def weigh_canary(self, app: str, env: str, weight: int) -> bool: ...


def host_edge(report: Report) -> EdgeDoor:
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


def route_of(spec: AppSpec, env: str, servers: tuple[str, ...], preview: tuple[str, ...] = (),
             canary: Canary | None = None) -> EdgeRoute | None:
    env_spec = spec.environment(env)
    if not env_spec.domains:
        return None
    routed = next((s for s in spec.services.values() if s.port), None)
    health = routed.health.path if routed is not None and routed.health is not None else None
    return EdgeRoute(spec.app, env, tuple(env_spec.domains), servers, env_spec.path, dict(env_spec.redirects),
                     preview, health=health, tls=env_spec.tls, hsts=env_spec.hsts, canary=canary)


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
                 preview: tuple[str, ...] = (), canary: Canary | None = None, drain: bool = True) -> None:
    """Serve the environment's names from `servers` (an environment without domains: withdrawn), and
    a share of them from a canary's; then wait until the edge's old processes finished what they
    held for replicas about to stop (not `drain`: none will, the caller goes on at once)."""
    route = route_of(spec, env, servers, preview, canary)
    if route is None:
        if edge.withdraw(spec.app, env):
            report(f"edge: {spec.app}/{env} has no domains any more: its names are withdrawn")
        return
    if edge.publish(route, where_in(spec, env)):
        split = f"; {canary.weight}% to the canary {', '.join(canary.servers)}" if canary is not None else ""
        report(f"edge: {', '.join(route.names)} -> {', '.join(servers) or 'nothing (503)'}{split}")
        if drain:
            edge.wait_drained(DRAIN_TIMEOUT)
    if route.tls != "off":
        secure_edge(spec, env, edge, report)


def secure_edge(spec: AppSpec, env: str, edge: EdgeDoor, report: Report) -> str | None:
    """HTTPS for the environment's names: certificates issued or renewed when due (a problem is
    reported and recorded as an event; the deploy goes on, served as before)."""
    route = edge.route(spec.app, env)
    if route is None:
        return None
    secured, problem = edge.secure(route)
    if secured.certificates != route.certificates and edge.publish(secured, where_in(spec, env)):
        report(f"edge: HTTPS for {', '.join(sorted(secured.certificates))}")
    if problem is not None:
        report(f"warning: {problem}")
        record_event(spec.app, env, route.domains[0], problem)
    return problem


def record_event(app: str, env: str, name: str, message: str) -> None:
    """An edge problem as an event of the outbox (`dockyard events`, the dashboard), not routed to
    channels: `edge.certificate` is no event a route may name."""
    now, host = time.time(), socket.gethostname()
    data = {"rule": "edge:certificate", "container": name, "service": "", "host": host, "message": message}
    db = StateDB()
    try:
        record(db, Event(f"edge:{app}:{env}:{name}:{now:.6f}", "edge.certificate", app, env, message, now, data,
                         began_at=now), host)
    finally:
        db.close()


class Renewals:
    """The server's renewal pass over every HTTPS route of the host's edge (and `dockyard edge
    renew`): a certificate due is renewed; one that fails is tried again after a backoff that
    doubles from 5 minutes up to 6 hours, and each failure is an event."""

    FIRST_BACKOFF, LAST_BACKOFF = 300.0, 6 * 3600.0

    def __init__(self, edge: Callable[[], EdgeDoor], report: Report,
                 routes: Callable[[], list[EdgeRoute]]) -> None:
        self.edge, self.report, self.routes = edge, report, routes
        self.retry_at: dict[str, float] = {}
        self.backoff: dict[str, float] = {}

    def run_once(self, now: float | None = None) -> list[str]:
        """One pass; the problems it met, a line each."""
        now = time.time() if now is None else now
        problems = []
        for route in self.routes():
            if route.tls == "off" or self.retry_at.get(route.key, 0.0) > now:
                continue
            edge = self.edge()
            secured, problem = edge.secure(route)
            if secured.certificates != route.certificates and edge.publish(secured, lambda name: name):
                self.report(f"edge: {route.app}/{route.env}: certificate for {', '.join(secured.names)} renewed")
            if problem is None:
                self.retry_at.pop(route.key, None)
                self.backoff.pop(route.key, None)
                continue
            wait = min(self.backoff.get(route.key, self.FIRST_BACKOFF / 2) * 2, self.LAST_BACKOFF)
            self.backoff[route.key], self.retry_at[route.key] = wait, now + wait
            problems.append(f"{route.app}/{route.env}: {problem}; next try in {wait / 60:.0f} min")
            record_event(route.app, route.env, route.domains[0], problem)
        for line in problems:
            self.report(line)
        return problems

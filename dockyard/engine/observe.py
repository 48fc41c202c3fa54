"""Read back what runs: Dockyard's containers of one app/env, from their engine labels."""

from __future__ import annotations

from dockyard.engine import labels as L
from dockyard.engine.api import Container, DockerError
from dockyard.engine.client import Engine, engine_error
from dockyard.engine.rows import Running
from dockyard.engine.swarm_observe import observe_tasks


def container_url(container: Container) -> str | None:
    port = L.loopback_port(container.attrs)
    return f"http://127.0.0.1:{port}" if port else None


def to_running(container: Container) -> Running:
    labels = container.labels or {}
    state = container.attrs.get("State") or {}
    return Running(
        id=container.id or "",
        name=container.name or "",
        service=labels.get(L.SERVICE, ""),
        replica=int(labels.get(L.REPLICA, "0") or 0),
        config_hash=labels.get(L.CONFIG_HASH, ""),
        release=labels.get(L.RELEASE, ""),
        running=container.status == "running",
        env=labels.get(L.ENV, ""),
        app=labels.get(L.APP, ""),
        state=container.status,
        url=container_url(container),
        commit=labels.get(L.COMMIT),
        color=labels.get(L.COLOR),
        probe=labels.get(L.HEALTH, ""),
        engine_health=(state.get("Health") or {}).get("Status"),
        restarting=bool(state.get("Restarting")),
    )


def observe(engine: Engine, app: str | None, env: str | None = None) -> list[Running]:
    if engine.config.swarm:  # tasks of Swarm services, as the same rows
        return observe_tasks(engine, app, env)
    try:
        containers = engine.client.containers.list(all=True, filters=L.scope_filters(app, env), ignore_removed=True)
    except DockerError as exc:
        raise engine_error(f"listing containers on engine {engine.name!r}", exc) from exc
    return sorted((to_running(c) for c in containers), key=lambda r: (r.env, r.service, r.replica, r.name))

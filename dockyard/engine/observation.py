"""What runs, the same on every engine: Engine.observe of the real engine and of the fake."""

from __future__ import annotations

from dockyard.engine.interface import Engine
from dockyard.engine.rows import Running, container_row, task_rows


def observation(engine: Engine, app: str | None, env: str | None = None) -> list[Running]:
    """Its containers, or on a Swarm manager its services' tasks, as rows."""
    if engine.config.swarm:
        found = engine.services(app, env)
        return task_rows(found, engine.tasks([s.id for s in found]), engine.nodes())
    rows = (container_row(c) for c in engine.list_replicas(app, env, detail=False))  # a row needs no inspect
    return sorted(rows, key=lambda r: (r.env, r.service, r.replica, r.name))

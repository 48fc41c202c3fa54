"""What runs on a Swarm, in docker-py's calls: Dockyard's services, their tasks, the nodes, and
whether the engine is a manager.

Each function takes docker-py's client and lets its failures through; `Engine`'s verbs
(engine/client.py) translate them.
"""

from __future__ import annotations

from typing import Any

from dockyard.engine import labels as L
from dockyard.engine.swarm_facts import NodeFact, ServiceFact, TaskFact, parse_node, parse_service, parse_task

__all__ = ["nodes", "running_tasks", "services", "swarm_state", "tasks"]


def services(client: Any, app: str | None, env: str | None) -> list[ServiceFact]:
    raw = client.api.services(filters=L.scope_filters(app, env))
    return sorted((parse_service(s) for s in raw), key=lambda s: (s.env, s.service))


def tasks(client: Any, service_ids: list[str]) -> list[TaskFact]:
    if not service_ids:
        return []
    return [parse_task(t) for t in client.api.tasks(filters={"service": service_ids})]


def running_tasks(client: Any) -> list[TaskFact]:
    """Every task of the Swarm that is meant to run, whoever's."""
    return [parse_task(t) for t in client.api.tasks(filters={"desired-state": "running"})]


def nodes(client: Any) -> dict[str, NodeFact]:
    return {n.id: n for n in (parse_node(a) for a in client.api.nodes())}


def swarm_state(client: Any) -> tuple[bool, str]:
    """(is it a manager, its LocalNodeState)."""
    swarm = client.info().get("Swarm") or {}
    return bool(swarm.get("ControlAvailable")), swarm.get("LocalNodeState") or "inactive"

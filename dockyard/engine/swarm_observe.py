"""Read back what runs on a Swarm: Dockyard's services, their tasks and the nodes (queries).

Tasks become the same rows as containers (deploy.observe.Running), so `ps`, `exec` and the
deploy report read a Swarm environment like any other.
"""

from __future__ import annotations

from typing import Any

import docker.errors

from dockyard.engine import labels as L
from dockyard.engine.api import DockerError
from dockyard.engine.client import Engine, engine_error
from dockyard.engine.rows import Running
from dockyard.engine.swarm_facts import NodeFact, ServiceFact, TaskFact, parse_node, parse_service, parse_task, task_url
from dockyard.errors import EngineError


def require_manager(engine: Engine) -> None:
    try:
        swarm = engine.client.info().get("Swarm") or {}
    except DockerError as exc:
        raise engine_error(f"asking engine {engine.name!r} about its swarm", exc) from exc
    if not swarm.get("ControlAvailable"):
        state = swarm.get("LocalNodeState") or "inactive"
        raise EngineError(f"engine {engine.name!r} ({engine.config.host}) is not a Swarm manager (swarm: {state})",
                          hint="on it: docker swarm init --advertise-addr ADDR; or register the manager's "
                               "address with dockyard engine add NAME --host ... --swarm")


def _call(engine: Engine, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except DockerError as exc:
        raise engine_error(f"{what} on engine {engine.name!r}", exc) from exc


def services(engine: Engine, app: str | None, env: str | None = None) -> list[ServiceFact]:
    raw = _call(engine, "listing services", engine.client.api.services, filters=L.scope_filters(app, env))
    return sorted((parse_service(s) for s in raw), key=lambda s: (s.env, s.service))


def tasks(engine: Engine, service_ids: list[str]) -> list[TaskFact]:
    if not service_ids:
        return []
    raw = _call(engine, "listing tasks", engine.client.api.tasks, filters={"service": service_ids})
    return [parse_task(t) for t in raw]


def all_tasks(engine: Engine) -> list[TaskFact]:
    return [parse_task(t) for t in _call(engine, "listing tasks", engine.client.api.tasks,
                                         filters={"desired-state": "running"})]


def nodes(engine: Engine) -> dict[str, NodeFact]:
    return {n.id: n for n in (parse_node(a) for a in _call(engine, "listing nodes", engine.client.api.nodes))}


def task_rows(found: list[ServiceFact], task_list: list[TaskFact], node_map: dict[str, NodeFact]) -> list[Running]:
    """Pure: the tasks meant to run, as container-like rows (name = the task container's name)."""
    by_id = {s.id: s for s in found}
    rows = []
    for task in task_list:
        service = by_id.get(task.service_id)
        if service is None or task.desired != "running":
            continue
        rows.append(Running(
            id=task.container_id or task.id, name=f"{service.name}.{task.slot}.{task.id}",
            service=service.service, replica=task.slot, config_hash=task.config_hash, release=task.release,
            running=task.state == "running", env=service.env, app=service.app, state=task.state,
            url=task_url(task, service.port, node_map), commit=service.commit, node=task.node_id,
            color=service.color))
    return sorted(rows, key=lambda r: (r.env, r.service, r.replica, r.name))


def observe_tasks(engine: Engine, app: str | None, env: str | None = None) -> list[Running]:
    found = services(engine, app, env)
    return task_rows(found, tasks(engine, [s.id for s in found]), nodes(engine))


def remove_service(engine: Engine, service: ServiceFact) -> None:
    """Remove a service; Swarm stops its tasks, each with its stop grace period. Gone already is fine."""
    try:
        engine.client.api.remove_service(service.id)
    except docker.errors.NotFound:
        pass
    except DockerError as exc:
        raise engine_error(f"removing service {service.name}", exc) from exc

"""The pool of a Swarm: each node's resources, availability, state and the tasks it runs (pure view),
and the engine that reaches one node's dockerd (for `exec` into a task there)."""

from __future__ import annotations

from typing import Any

from dockyard import settings
from dockyard.engine.interface import Engine
from dockyard.engine.swarm_facts import ENGINE_LABEL, NodeFact, TaskFact
from dockyard.errors import NotFound
from dockyard.settings import EngineSettings


def pool_view(nodes: list[NodeFact], tasks: list[TaskFact], service_names: dict[str, str]) -> list[dict[str, Any]]:
    """One dict per node (managers first, then by hostname), its tasks sorted by service and slot."""
    rows = []
    for node in sorted(nodes, key=lambda n: (n.role != "manager", n.hostname, n.id)):
        mine = sorted((t for t in tasks if t.node_id == node.id and t.desired == "running"),
                      key=lambda t: (service_names.get(t.service_id, t.service_id), t.slot))
        rows.append({
            "id": node.id, "hostname": node.hostname, "role": node.role, "leader": node.leader,
            "availability": node.availability, "state": node.state, "addr": node.addr,
            "publish_addr": node.publish_addr, "nano_cpus": node.nano_cpus, "memory_bytes": node.memory_bytes,
            "labels": node.labels,
            "tasks": [{"service": service_names.get(t.service_id, t.service_id), "slot": t.slot, "state": t.state,
                       "task": t.id} for t in mine],
        })
    return rows


def pool(engine: Engine) -> list[dict[str, Any]]:
    engine.require_manager()
    return pool_view(list(engine.nodes().values()), engine.running_tasks(), engine.service_names())


def node_engine(engine: Engine, node_id: str) -> EngineSettings:
    """The engine that reaches a node's dockerd: the manager's own for its node, else the registered
    engine that the node's `dockyard.engine` label names."""
    if node_id == engine.node_id():
        return engine.config
    node = engine.nodes().get(node_id)
    where = f"{node.hostname} ({node.addr})" if node else node_id
    name = node.labels.get(ENGINE_LABEL) if node else None
    if not name:
        raise NotFound(f"the task runs on node {where}, and that node names no engine Dockyard can reach",
                       hint=f"register its dockerd and label the node: dockyard engine add NAME --host ...; "
                            f"docker node update --label-add {ENGINE_LABEL}=NAME {node_id[:12]}")
    return settings.engine(name)

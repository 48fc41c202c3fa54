"""The pool of a Swarm: each node's resources, availability, state and the tasks it runs (pure view)."""

from __future__ import annotations

from typing import Any

from dockyard.engine.client import Engine
from dockyard.swarm import observe
from dockyard.swarm.facts import NodeFact, TaskFact


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
    observe.require_manager(engine)
    names = {s["ID"]: s["Spec"]["Name"] for s in observe._call(engine, "listing services", engine.client.api.services)}
    return pool_view(list(observe.nodes(engine).values()), observe.all_tasks(engine), names)

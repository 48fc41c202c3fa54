"""Swarm facts: pure parsers of the Engine API's service, task and node JSON into typed rows.

The queries live in observe.py; these functions only read dicts, so tests feed them JSON
captured from a real manager.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from dockyard.engine import labels as L

PUBLISH_ADDR = "dockyard.publish-addr"  # node label: where that node's host-mode ports answer
AGENT_LABEL = "dockyard.agent"  # node label: the URL of that node's monitor agent, read by the autoscaler
ENGINE_LABEL = "dockyard.engine"  # node label: the registered engine that reaches that node's dockerd


@dataclass(frozen=True)
class ServiceFact:
    id: str
    name: str
    version: int
    app: str
    env: str
    service: str
    release: str
    config_hash: str
    replicas: int
    update_state: str | None  # updating, completed, paused, rollback_started, rollback_completed, ...
    update_message: str
    port: int | None
    commit: str | None
    refs: frozenset[str]  # names of the configs and secrets its spec and previous spec use
    color: str | None = None  # blue | green: one colour of a blue-green environment
    parked: int = 0  # a standby colour's worker service at 0 replicas: the count it had (L.PARKED)


@dataclass(frozen=True)
class TaskFact:
    id: str
    service_id: str
    slot: int
    node_id: str
    state: str
    desired: str
    config_hash: str
    release: str
    error: str
    container_id: str
    published: dict[int, int]  # target port -> published host port
    created: str
    exit_code: int | None = None  # once its container ended
    updated: str = ""  # when its state last changed (Docker's time)


@dataclass(frozen=True)
class NodeFact:
    id: str
    hostname: str
    role: str
    availability: str
    state: str
    addr: str
    publish_addr: str
    nano_cpus: int
    memory_bytes: int
    leader: bool
    labels: dict[str, str]


def _refs(spec: dict[str, Any] | None) -> set[str]:
    container = ((spec or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}
    names = {c.get("ConfigName", "") for c in container.get("Configs") or []}
    names |= {s.get("SecretName", "") for s in container.get("Secrets") or []}
    return names - {""}


def parse_service(attrs: dict[str, Any]) -> ServiceFact:
    spec = attrs.get("Spec") or {}
    labels = spec.get("Labels") or {}
    ports = (spec.get("EndpointSpec") or {}).get("Ports") or []
    update = attrs.get("UpdateStatus") or {}
    return ServiceFact(
        id=attrs["ID"],
        name=spec.get("Name", ""),
        version=int((attrs.get("Version") or {}).get("Index", 0)),
        app=labels.get(L.APP, ""),
        env=labels.get(L.ENV, ""),
        service=labels.get(L.SERVICE, ""),
        release=labels.get(L.RELEASE, ""),
        config_hash=labels.get(L.CONFIG_HASH, ""),
        replicas=int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 0)),
        update_state=update.get("State"),
        update_message=update.get("Message", ""),
        port=ports[0].get("TargetPort") if ports else None,
        commit=labels.get(L.COMMIT),
        refs=frozenset(_refs(spec) | _refs(attrs.get("PreviousSpec"))),
        color=labels.get(L.COLOR),
        parked=int(labels.get(L.PARKED, "0") or 0),
    )


def parse_task(attrs: dict[str, Any]) -> TaskFact:
    status = attrs.get("Status") or {}
    labels = (((attrs.get("Spec") or {}).get("ContainerSpec") or {}).get("Labels")) or {}
    ports = (status.get("PortStatus") or {}).get("Ports") or []
    return TaskFact(
        id=attrs["ID"],
        service_id=attrs.get("ServiceID", ""),
        slot=int(attrs.get("Slot") or 0),
        node_id=attrs.get("NodeID", ""),
        state=status.get("State", ""),
        desired=attrs.get("DesiredState", ""),
        config_hash=labels.get(L.CONFIG_HASH, ""),
        release=labels.get(L.RELEASE, ""),
        error=status.get("Err", ""),
        container_id=(status.get("ContainerStatus") or {}).get("ContainerID", ""),
        published={int(p["TargetPort"]): int(p["PublishedPort"]) for p in ports
                   if p.get("PublishMode") == "host" and p.get("PublishedPort")},
        created=attrs.get("CreatedAt", ""),
        exit_code=(status.get("ContainerStatus") or {}).get("ExitCode"),
        updated=status.get("Timestamp") or attrs.get("UpdatedAt", ""),
    )


def publish_address(label: str | None, addr: str) -> str:
    """The node's label when it is an IP address, else the node's own address: the label goes into
    nginx's upstreams, so `1.2.3.4; include /etc/...` must never get there."""
    if label:
        try:
            return str(ipaddress.ip_address(label.strip()))
        except ValueError:
            pass
    return addr


def parse_node(attrs: dict[str, Any]) -> NodeFact:
    spec = attrs.get("Spec") or {}
    description = attrs.get("Description") or {}
    resources = description.get("Resources") or {}
    status = attrs.get("Status") or {}
    labels = dict(spec.get("Labels") or {})
    addr = status.get("Addr", "")
    return NodeFact(
        id=attrs["ID"],
        hostname=description.get("Hostname", ""),
        role=spec.get("Role", ""),
        availability=spec.get("Availability", ""),
        state=status.get("State", ""),
        addr=addr,
        publish_addr=publish_address(labels.get(PUBLISH_ADDR), addr),
        nano_cpus=int(resources.get("NanoCPUs", 0)),
        memory_bytes=int(resources.get("MemoryBytes", 0)),
        leader=bool((attrs.get("ManagerStatus") or {}).get("Leader")),
        labels=labels,
    )


def task_url(task: TaskFact, port: int | None, nodes: dict[str, NodeFact]) -> str | None:
    node = nodes.get(task.node_id)
    if port is None or node is None or port not in task.published:
        return None
    return f"http://{node.publish_addr}:{task.published[port]}"


def unused_objects(objects: dict[str, str], services: list[ServiceFact]) -> list[str]:
    """IDs of our configs/secrets (name -> id) no service spec or previous spec refers to."""
    used = set().union(*(s.refs for s in services)) if services else set()
    return sorted(oid for name, oid in objects.items() if name not in used)

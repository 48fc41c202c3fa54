"""Pure translator: one service of a release -> the Engine API body of a Swarm service (Docker's
service-spec JSON, so it lives in engine/).

No I/O, so the exact request is tested by equality (as engine/containers.py is for containers).
The same labels as the container path go on the service and on its task containers, so the
monitor agent and `ps` see app/env/service/release/config-hash either way. Ports are published
in host mode (the routing mesh needs IPVS, which this kernel lacks); which address they bind
is decided per node by the publish network (see docs/swarm.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from dockyard.engine import labels as L
from dockyard.engine.containers import CommandCheck, is_root_user

SECRETS_DIR = "/run/secrets"
NS = 1_000_000_000
LOG_DRIVER = {"Name": "json-file", "Options": {"max-size": "10m", "max-file": "3"}}


@dataclass(frozen=True)
class FileRef:
    """A Swarm config or secret already created on the manager, and where the task sees it."""

    name: str
    id: str
    target: str  # absolute path for a config; the file name under /run/secrets for a secret


@dataclass(frozen=True)
class SwarmService:
    app: str
    env: str
    service: str
    image: str
    release_id: str
    config_hash: str
    config_revision: int
    commit: str | None
    replicas: int
    command: list[str] | None
    port: int | None
    cpus: float | None
    memory: int | None
    user: str
    environment: dict[str, str] = field(default_factory=dict)
    init: bool = True
    stop_grace: float = 10.0
    read_only: bool = False
    capabilities: tuple[str, ...] = ()  # added to none (CapabilityDrop ALL): the site allows them
    constraints: tuple[str, ...] = ()
    preferences: tuple[str, ...] = ()
    max_per_node: int | None = None
    network: str | None = None
    parallelism: int = 1  # tasks updated at a time; 0 = all at once (strategy recreate)
    monitor: float = 5.0  # seconds a new task is watched for a crash (counted as the update's failure)
    delay: float = 0.0  # seconds between two tasks' updates (behind the edge: Dockyard judges each first)
    configs: tuple[FileRef, ...] = ()
    secrets: tuple[FileRef, ...] = ()
    color: str | None = None  # blue | green in a blue-green environment: one Swarm service per colour
    volumes: tuple[tuple[str, str, bool], ...] = ()  # (volume name in the service, path, read only)
    health_command: CommandCheck | None = None  # health: {command: [...]}: Swarm runs it in each task


def service_name(app: str, env: str, service: str, color: str | None = None) -> str:
    return L.scoped_name(app, env, service, color) if color else L.scoped_name(app, env, service)


def object_name(app: str, env: str, key: str, data: bytes) -> str:
    """Content-addressed name of a config or secret (both are immutable in Swarm); at most 64 chars."""
    digest = hashlib.sha256(f"{app}\0{env}\0{key}\0".encode() + data).hexdigest()[:16]  # one (app, env)'s
    return f"{app[:30]}-{env[:12]}-{digest}"


def object_labels(app: str, env: str, key: str) -> dict[str, str]:
    return {L.MANAGED: "1", L.APP: app, L.ENV: env, "dockyard.key": key}


def service_labels(s: SwarmService) -> dict[str, str]:
    return L.release_labels(s.app, s.env, s.service, s.release_id, s.config_hash, s.config_revision, s.commit, s.color)


def _owner(user: str) -> tuple[str, str]:
    uid, _, gid = user.partition(":")
    if uid.isdigit() and (not gid or gid.isdigit()):
        return uid, gid or uid
    return "0", "0"  # a named user: the file is made world-readable instead (mode below)


def _files(s: SwarmService) -> dict[str, Any]:
    uid, gid = _owner(s.user)
    named = (uid, gid) == ("0", "0") and not is_root_user(s.user)
    out: dict[str, Any] = {}
    if s.configs:
        out["Configs"] = [{"ConfigID": c.id, "ConfigName": c.name,
                           "File": {"Name": c.target, "UID": uid, "GID": gid, "Mode": 0o444}}
                          for c in s.configs]
    if s.secrets:
        out["Secrets"] = [{"SecretID": c.id, "SecretName": c.name,
                           "File": {"Name": c.target, "UID": uid, "GID": gid, "Mode": 0o444 if named else 0o400}}
                          for c in s.secrets]
    return out


def _placement(s: SwarmService) -> dict[str, Any]:
    placement: dict[str, Any] = {}
    constraints = list(s.constraints)
    if s.volumes:  # its data is on one node: its tasks run there
        constraints.append(f"node.labels.{L.data_node_label(s.app, s.env, s.service)}==true")
    if constraints:
        placement["Constraints"] = constraints
    if s.preferences:
        placement["Preferences"] = [{"Spread": {"SpreadDescriptor": p}} for p in s.preferences]
    if s.max_per_node:
        placement["MaxReplicas"] = s.max_per_node
    return placement


def _resources(s: SwarmService) -> dict[str, Any]:
    """Reservations equal the limits: a task is placed only on a node where its limit fits."""
    amounts: dict[str, int] = {}
    if s.cpus:
        amounts["NanoCPUs"] = int(s.cpus * 1e9)
    if s.memory:
        amounts["MemoryBytes"] = s.memory
    return {"Limits": dict(amounts), "Reservations": dict(amounts)} if amounts else {}


def service_body(s: SwarmService) -> dict[str, Any]:
    """The ServiceSpec for POST /services/create and /services/{id}/update."""
    labels = service_labels(s)
    environment = {**s.environment, "DOCKYARD_COLOR": s.color} if s.color else s.environment
    container: dict[str, Any] = {
        "Image": s.image,
        "Labels": dict(labels),
        "Env": [f"{k}={v}" for k, v in sorted(environment.items())],
        "User": s.user,
        "Init": s.init,
        "StopSignal": "SIGTERM",
        "StopGracePeriod": int(s.stop_grace * NS),
    }
    if s.command:
        container["Args"] = list(s.command)  # like `docker run IMAGE ARGS`: the image's entrypoint stays
    if s.health_command:  # a task is "running" only once it passes (before: "starting")
        h = s.health_command
        container["HealthCheck"] = {"Test": ["CMD", *h.command], "Interval": int(h.interval * NS),
                                    "Timeout": int(h.timeout * NS), "Retries": h.retries,
                                    "StartPeriod": int(h.start_period * NS)}
    container["CapabilityDrop"] = ["ALL"]  # root too: only what it lists, and the site allows, is added
    # a container's no-new-privileges; engines before API 1.46 (Debian's 20.10) drop it (docs/security.md)
    container["Privileges"] = {"NoNewPrivileges": True}
    if s.capabilities:
        container["CapabilityAdd"] = list(s.capabilities)
    mounts: list[dict[str, Any]] = []
    if s.read_only:
        container["ReadOnly"] = True
        mounts.append({"Type": "tmpfs", "Target": "/tmp", "TmpfsOptions": {"SizeBytes": 64 * 2**20}})
    for volume, path, read_only in s.volumes:  # made, labelled, on the node the service is pinned to
        mounts.append({"Type": "volume", "Source": L.volume_name(s.app, s.env, s.service, volume), "Target": path,
                       "ReadOnly": read_only, "VolumeOptions": {"Labels": {
                           L.MANAGED: "1", L.APP: s.app, L.ENV: s.env, L.SERVICE: s.service, L.VOLUME: volume}}})
    if mounts:
        container["Mounts"] = mounts
    container.update(_files(s))
    task: dict[str, Any] = {
        "ContainerSpec": container,
        "RestartPolicy": {"Condition": "any", "Delay": 2 * NS, "MaxAttempts": 0},
        "LogDriver": LOG_DRIVER,
    }
    if resources := _resources(s):
        task["Resources"] = resources
    if placement := _placement(s):
        task["Placement"] = placement
    if s.network:
        task["Networks"] = [{"Target": s.network}]
    update = {"Parallelism": s.parallelism, "Delay": int(s.delay * NS), "FailureAction": "rollback",
              "Monitor": int(s.monitor * NS), "MaxFailureRatio": 0, "Order": "start-first"}
    rollback = {"Parallelism": 0, "Delay": 0, "FailureAction": "pause",
                "Monitor": int(s.monitor * NS), "MaxFailureRatio": 0, "Order": "start-first"}
    body: dict[str, Any] = {
        "Name": service_name(s.app, s.env, s.service, s.color),
        "Labels": labels,
        "TaskTemplate": task,
        "Mode": {"Replicated": {"Replicas": s.replicas}},
        "UpdateConfig": update,
        "RollbackConfig": rollback,
        "EndpointSpec": {"Ports": [{"Protocol": "tcp", "TargetPort": s.port, "PublishMode": "host"}]}
        if s.port else {},
    }
    return body


def body_name(body: dict[str, Any]) -> str:
    """A service spec's name (the layers above hold a spec whole, and read it only through these)."""
    return str(body["Name"])


def body_config_hash(body: dict[str, Any]) -> str:
    return str(body["Labels"].get(L.CONFIG_HASH) or "")


def body_replicas(body: dict[str, Any]) -> int:
    return int(body["Mode"]["Replicated"]["Replicas"])


def named(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The spec under another name (Swarm renames no service: one made before keeps its name)."""
    return {**body, "Name": name}


def create_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    """docker-py `APIClient.create_service/update_service` keyword arguments for a body (pure)."""
    return {"task_template": body["TaskTemplate"], "name": body["Name"], "labels": body["Labels"],
            "mode": body["Mode"], "update_config": body["UpdateConfig"],
            "rollback_config": body["RollbackConfig"], "endpoint_spec": body["EndpointSpec"]}


def one_off_body(s: SwarmService, name: str, kind: str, command: list[str],
                 environment: dict[str, str]) -> dict[str, Any]:
    """The ServiceSpec of a one-off task of the release (a release task, a hook): the service's
    settings, files, secrets, placement and network, its own command, one task that is never
    restarted, no published port, no health check; labelled `dockyard.task` instead of
    `dockyard.managed`, so no deploy, scale or switch takes it for a replica."""
    body = service_body(s)
    labels = {**{k: v for k, v in body["Labels"].items() if k != L.MANAGED}, L.TASK: kind}
    container = dict(body["TaskTemplate"]["ContainerSpec"])
    container.pop("HealthCheck", None)
    container["Labels"] = dict(labels)
    container["Args"] = list(command)
    container["Env"] = sorted({*container["Env"], *(f"{k}={v}" for k, v in environment.items())})
    task = {**body["TaskTemplate"], "ContainerSpec": container, "RestartPolicy": {"Condition": "none"}}
    return {"Name": name, "Labels": labels, "TaskTemplate": task, "Mode": {"Replicated": {"Replicas": 1}},
            "UpdateConfig": body["UpdateConfig"], "RollbackConfig": body["RollbackConfig"], "EndpointSpec": {}}

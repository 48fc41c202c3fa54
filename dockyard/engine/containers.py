"""Pure translator: one replica of a service -> the docker-py `containers.create` arguments.

No I/O here, so the exact request is tested by equality. Security defaults follow the
account's practices: ports only on 127.0.0.1, no-new-privileges, no capabilities for
non-root users, resource limits from the spec, logs kept by json-file with rotation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dockyard.engine import labels as L

SECRETS_MOUNT = "/run/secrets"
NON_ROOT_USER = "65534:65534"
LOG_CONFIG = {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}
# Limits when a service sets none: a fork bomb or a leak in one app must not take the host down.
DEFAULT_PIDS = 1024
DEFAULT_MEMORY = 1024 * 1024 * 1024
SECOND_NS = 1_000_000_000


@dataclass(frozen=True)
class CommandCheck:
    """A health check the engine runs inside the container (Docker's HEALTHCHECK): exit 0 is healthy."""

    command: tuple[str, ...]
    interval: float
    timeout: float
    retries: int
    start_period: float


def healthcheck_kwargs(check: CommandCheck) -> dict[str, Any]:
    """docker-py's `healthcheck` argument (nanoseconds, as the Engine API takes them)."""
    return {"test": ["CMD", *check.command], "interval": int(check.interval * SECOND_NS),
            "timeout": int(check.timeout * SECOND_NS), "retries": check.retries,
            "start_period": int(check.start_period * SECOND_NS)}


def network_name(app: str, env: str) -> str:
    """The bridge network of one app's environment: its containers reach each other, not other apps."""
    return "dockyard_" + L.scoped_name(app, env)


def legacy_network_name(app: str, env: str) -> str:
    """The name before issue 28 (app a-b env c and app a env b-c shared it): found, joined, then left."""
    return f"dockyard-{app}-{env}"


@dataclass(frozen=True)
class ReplicaSpec:
    app: str
    env: str
    service: str
    replica: int
    image: str
    release_id: str
    config_hash: str
    config_revision: int
    commit: str | None
    command: list[str] | None
    port: int | None
    cpus: float | None
    memory: int | None
    user: str
    environment: dict[str, str] = field(default_factory=dict)
    secrets_dir: str | None = None  # host tmpfs dir bind-mounted read-only at /run/secrets
    file_mounts: tuple[tuple[str, str], ...] = ()  # (host tmpfs file, target): config files holding secrets
    init: bool = True
    stop_grace: float = 10.0
    color: str | None = None  # blue | green in a blue-green environment
    read_only: bool = False  # read-only root file system; /tmp is a tmpfs
    capabilities: tuple[str, ...] = ()  # added to none (every capability is dropped): the site allows them
    host_port: int | None = None  # the 127.0.0.1 port it publishes on; None: the engine picks one
    volumes: tuple[tuple[str, str, bool], ...] = ()  # (volume name in the service, path, read only)
    binds: tuple[tuple[str, str, bool], ...] = ()  # (host folder, path, read only): allowed by the site
    health_command: CommandCheck | None = None  # health: {command: [...]}, run by the engine
    health_probe: str = ""  # the L.HEALTH label: how its release judges its health
    task: str | None = None  # a one-off task of the release (L.TASK), not a replica: runs once, no restart
    interactive: bool = False  # a one-off attached to a terminal: a TTY and stdin


def is_root_user(user: str | None) -> bool:
    return not user or user.split(":")[0] in ("root", "0")


def choose_user(spec_user: str | None, image_user: str | None) -> str:
    """The service's own choice wins; else the image's user; an image that runs as root gets nobody."""
    if spec_user:
        return spec_user
    if image_user and not is_root_user(image_user):
        return image_user
    return NON_ROOT_USER


def replica_labels(spec: ReplicaSpec) -> dict[str, str]:
    """The labels of a replica's container: what every reader finds and judges it by. A task's have
    no MANAGED: it is none of the release's replicas."""
    if spec.task:
        labels = {L.APP: spec.app, L.ENV: spec.env, L.SERVICE: spec.service, L.RELEASE: spec.release_id,
                  L.TASK: spec.task, L.COMMIT: spec.commit, L.SECRETS_DIR: spec.secrets_dir}
        return {key: value for key, value in labels.items() if value}
    return L.release_labels(spec.app, spec.env, spec.service, spec.release_id, spec.config_hash, spec.config_revision,
                            spec.commit, spec.color, **{L.REPLICA: str(spec.replica), L.HEALTH: spec.health_probe,
                                                        L.SECRETS_DIR: spec.secrets_dir})


def create_kwargs(spec: ReplicaSpec, name: str) -> dict[str, Any]:
    container_labels = replica_labels(spec)
    kwargs: dict[str, Any] = {
        "image": spec.image,
        "name": name,
        "labels": container_labels,
        "environment": dict(sorted(spec.environment.items())),
        "user": spec.user,
        "security_opt": ["no-new-privileges:true"],
        "restart_policy": {"Name": "no" if spec.task else "unless-stopped"},
        "log_config": LOG_CONFIG,
        "detach": True,
        "init": spec.init,
        "stop_signal": "SIGTERM",
        "network": network_name(spec.app, spec.env),
        "pids_limit": DEFAULT_PIDS,
        "mem_limit": DEFAULT_MEMORY,
    }
    kwargs["cap_drop"] = ["ALL"]  # root too: a root user the site allows gets no capability it did not list
    if spec.capabilities:
        kwargs["cap_add"] = list(spec.capabilities)
    if spec.read_only:
        kwargs["read_only"] = True
        kwargs["tmpfs"] = {"/tmp": "rw,nosuid,nodev,size=64m"}
    if spec.command:
        kwargs["command"] = list(spec.command)
    if spec.interactive:
        kwargs["tty"] = kwargs["stdin_open"] = True
    if spec.port and not spec.task:
        kwargs["ports"] = {f"{spec.port}/tcp": ("127.0.0.1", spec.host_port)}
    if spec.cpus:
        kwargs["nano_cpus"] = int(spec.cpus * 1e9)
    if spec.health_command:
        kwargs["healthcheck"] = healthcheck_kwargs(spec.health_command)
    if spec.memory:
        kwargs["mem_limit"] = spec.memory
    mounts = {L.volume_name(spec.app, spec.env, spec.service, volume): {"bind": path,
                                                                        "mode": "ro" if read_only else "rw"}
              for volume, path, read_only in spec.volumes}
    mounts.update({host: {"bind": path, "mode": "ro" if read_only else "rw"} for host, path, read_only in spec.binds})
    if spec.secrets_dir:
        mounts.update({spec.secrets_dir: {"bind": SECRETS_MOUNT, "mode": "ro"},
                       **{host: {"bind": target, "mode": "ro"} for host, target in spec.file_mounts}})
    if mounts:
        kwargs["volumes"] = mounts
    return kwargs

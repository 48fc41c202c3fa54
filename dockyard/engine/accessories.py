"""Accessories (issue 16): one container per accessory and environment, on the environment's
network under the accessory's name, with Docker's health check and restart policy.

`accessory_create_kwargs` is the pure translator (tested by equality); the functions below it are
the engine's side (DockerEngine's accessory verbs): find, start, wait for health, list, logs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import docker.errors

from dockyard.engine import labels as L
from dockyard.engine.api import DockerError
from dockyard.engine.containers import (
    DEFAULT_MEMORY,
    DEFAULT_PIDS,
    LOG_CONFIG,
    SECRETS_MOUNT,
    CommandCheck,
    healthcheck_kwargs,
    network_name,
)
from dockyard.engine.facts import AccessoryState, accessory_state
from dockyard.engine.failures import Handle, engine_error
from dockyard.errors import DeployError, EngineError


@dataclass(frozen=True)
class AccessoryRun:
    """Everything one accessory's container is made from."""

    app: str
    env: str
    name: str
    image: str
    config_hash: str
    user: str
    command: tuple[str, ...] | None = None
    port: int | None = None
    publish: int | None = None  # 127.0.0.1 host port
    environment: tuple[tuple[str, str], ...] = ()
    secrets_dir: str | None = None
    volumes: tuple[tuple[str, str, bool], ...] = ()  # (volume name in the accessory, path, read only)
    binds: tuple[tuple[str, str, bool], ...] = ()  # (host folder, path, read only): allowed by the site
    capabilities: tuple[str, ...] = ()  # added to none: the site's policy allows them
    health: CommandCheck | None = None
    cpus: float | None = None
    memory: int | None = None
    stop_grace: float = 30.0

    @property
    def container(self) -> str:
        return L.accessory_container_name(self.app, self.env, self.name)


def accessory_labels(app: str, env: str, name: str) -> dict[str, str]:
    return {L.APP: app, L.ENV: env, L.SERVICE: name, L.ACCESSORY: name}


def accessory_create_kwargs(run: AccessoryRun) -> dict[str, Any]:
    labels = {**accessory_labels(run.app, run.env, run.name), L.CONFIG_HASH: run.config_hash}
    network = network_name(run.app, run.env)
    kwargs: dict[str, Any] = {
        "image": run.image,
        "name": run.container,
        "labels": labels,
        "environment": dict(run.environment),
        "user": run.user,
        "security_opt": ["no-new-privileges:true"],
        # a crash (kill -9 included) brings it back; `accessory stop` keeps it stopped
        "restart_policy": {"Name": "unless-stopped"},
        "log_config": LOG_CONFIG,
        "detach": True,
        "init": True,
        "stop_signal": "SIGTERM",
        "network": network,
        # the stable name the app reaches it by: ${accessories.NAME.host}
        "networking_config": {network: {"Aliases": [run.name]}},
        "pids_limit": DEFAULT_PIDS,
        "mem_limit": run.memory or DEFAULT_MEMORY,
    }
    kwargs["cap_drop"] = ["ALL"]  # root too: only what it lists, and the site allows, is added
    if run.capabilities:
        kwargs["cap_add"] = list(run.capabilities)
    if run.command:
        kwargs["command"] = list(run.command)
    if run.publish and run.port:
        kwargs["ports"] = {f"{run.port}/tcp": ("127.0.0.1", run.publish)}
    if run.cpus:
        kwargs["nano_cpus"] = int(run.cpus * 1e9)
    if run.health:
        kwargs["healthcheck"] = healthcheck_kwargs(run.health)
    mounts = {L.volume_name(run.app, run.env, run.name, volume): {"bind": path, "mode": "ro" if read_only else "rw"}
              for volume, path, read_only in run.volumes}
    mounts.update({host: {"bind": path, "mode": "ro" if read_only else "rw"} for host, path, read_only in run.binds})
    if run.secrets_dir:
        labels[L.SECRETS_DIR] = run.secrets_dir
        mounts[run.secrets_dir] = {"bind": SECRETS_MOUNT, "mode": "ro"}
    if mounts:
        kwargs["volumes"] = mounts
    return kwargs


def find_accessory(engine: Handle, app: str, env: str, name: str) -> AccessoryState | None:
    """The accessory's container; one of its name that is not this accessory's is refused."""
    found = inspect_accessory(engine, app, env, name)
    return None if found is None else accessory_state(found)


def inspect_accessory(engine: Handle, app: str, env: str, name: str) -> dict[str, Any] | None:
    """The inspect data of the accessory's container (find_accessory's rule)."""
    container_name = L.accessory_container_name(app, env, name)
    try:
        found = engine.client.api.inspect_container(container_name)
    except docker.errors.NotFound:
        return None
    except DockerError as exc:
        raise engine_error(f"looking up {container_name}", exc) from exc
    wanted = accessory_labels(app, env, name)
    labels = (found.get("Config") or {}).get("Labels") or {}
    if {k: v for k, v in labels.items() if k in wanted} != wanted:
        raise DeployError(f"a container named {container_name} exists on engine {engine.name!r}, but it is not "
                          f"{app}/{env}'s accessory {name}", hint=f"remove or rename it: docker rm {container_name}")
    return dict(found)


def start_accessory(engine: Handle, run: AccessoryRun) -> str:
    """Create and start its container (the caller removed any previous one); its id."""
    try:
        container = engine.client.containers.create(**accessory_create_kwargs(run))
        container.start()
    except DockerError as exc:
        raise engine_error(f"starting accessory {run.name} of {run.app}/{run.env}", exc) from exc
    return str(container.id)


def wait_healthy(engine: Handle, container_id: str, what: str, timeout: float, logs_hint: str) -> AccessoryState:
    """Until Docker's health check passes (or, with none, the container runs); its last state."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = accessory_state(engine.client.api.inspect_container(container_id))
        except DockerError as exc:
            raise engine_error(f"inspecting {what}", exc) from exc
        if state.state == "running" and state.health in ("healthy", "none"):
            return state
        if state.state in ("exited", "dead"):
            raise DeployError(f"{what} exited during its start", hint=f"its output: {logs_hint}")
        if time.monotonic() > deadline:
            raise DeployError(f"{what} is not healthy after {timeout:g}s (state {state.state}, health "
                              f"{state.health})", hint=f"its output: {logs_hint}")
        time.sleep(0.25)


def accessory_logs(engine: Handle, container_id: str, name: str, tail: int, follow: bool) -> Iterator[bytes]:
    """Its output (stdout and stderr, as the engine keeps it), the last `tail` lines, then new ones
    when following."""
    try:
        yield from engine.client.api.logs(container_id, stream=True, follow=follow, tail=tail)
    except DockerError as exc:
        raise EngineError(f"reading the output of {name}: {exc}") from exc

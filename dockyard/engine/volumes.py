"""Named volumes of an app's environment (issue 16): created labelled before the first container
mounts them, kept across deploys, rollbacks, switches and scaling, removed only by a purge."""

from __future__ import annotations

import time

import docker.errors

from dockyard.engine import labels as L
from dockyard.engine.api import DockerError
from dockyard.engine.failures import Handle, engine_error
from dockyard.errors import DeployError


def volume_labels(app: str, env: str, service: str, name: str) -> dict[str, str]:
    return {L.MANAGED: "1", L.APP: app, L.ENV: env, L.SERVICE: service, L.VOLUME: name}


def ensure_volume(engine: Handle, app: str, env: str, service: str, name: str) -> str:
    """The volume, created labelled when missing; one of that name that is not this one's is refused."""
    full = L.volume_name(app, env, service, name)
    labels = volume_labels(app, env, service, name)
    try:
        try:
            found = engine.client.volumes.get(full)
        except docker.errors.NotFound:
            found = engine.client.volumes.create(name=full, labels=labels)
    except DockerError as exc:
        raise engine_error(f"creating volume {full}", exc) from exc
    mine = {k: v for k, v in (found.attrs.get("Labels") or {}).items() if k in labels}
    if mine != labels:
        raise DeployError(f"a volume named {full} exists on the engine, but it is not {app}/{env}'s volume {name} "
                          f"of {service} (labels {found.attrs.get('Labels') or {}})",
                          hint=f"remove or rename that volume (docker volume rm {full}) if nothing needs it")
    return full


def app_volumes(engine: Handle, app: str, env: str) -> list[str]:
    """The names of the volumes of an app's environment."""
    try:
        return sorted(v.name for v in engine.client.volumes.list(
            filters={"label": [f"{L.MANAGED}=1", f"{L.APP}={app}", f"{L.ENV}={env}"]}))
    except DockerError as exc:
        raise engine_error(f"listing the volumes of {app}/{env}", exc) from exc


def remove_volume(engine: Handle, name: str, wait: float = 0.0) -> None:
    """Remove it; `wait`: seconds to let containers that still use it go (a removed Swarm service's
    task containers are removed after the service, by the node)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            engine.client.volumes.get(name).remove()
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code != 409 or time.monotonic() > deadline:
                raise engine_error(f"removing volume {name}", exc) from exc
        except DockerError as exc:
            raise engine_error(f"removing volume {name}", exc) from exc
        time.sleep(0.5)


def pin_node(engine: Handle, label: str) -> str:
    """The hostname of the Swarm node carrying `label` (=true); when none does, the node of the
    manager Dockyard talks to is labelled: its tasks then always run there, where their volumes are."""
    try:
        holding = engine.client.nodes.list(filters={"node.label": f"{label}=true"})
        if holding:
            return str(holding[0].attrs["Description"]["Hostname"])
        node = engine.client.nodes.get(engine.client.info()["Swarm"]["NodeID"])
        spec = dict(node.attrs["Spec"])
        spec["Labels"] = {**(spec.get("Labels") or {}), label: "true"}
        node.update(spec)
        return str(node.attrs["Description"]["Hostname"])
    except DockerError as exc:
        raise engine_error(f"pinning {label} to a node", exc) from exc


def unpin_nodes(engine: Handle, prefix: str) -> list[str]:
    """Remove every node label starting with `prefix` (an environment's data labels); the hostnames."""
    done: list[str] = []
    try:
        for node in engine.client.nodes.list():
            spec = dict(node.attrs["Spec"])
            labels = spec.get("Labels") or {}
            kept = {k: v for k, v in labels.items() if not k.startswith(prefix)}
            if kept != labels:
                spec["Labels"] = kept
                node.update(spec)
                done.append(str(node.attrs["Description"]["Hostname"]))
    except DockerError as exc:
        raise engine_error("removing data labels from the nodes", exc) from exc
    return done

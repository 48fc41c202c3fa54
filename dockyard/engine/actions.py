"""Actions that every path shares: one stop-and-remove of a container, with its secret clean-up;
the removal of an environment's Swarm services."""

from __future__ import annotations

import time
from typing import Any

import docker.errors

from dockyard.engine import labels as L
from dockyard.engine.api import DockerError
from dockyard.engine.facts import ReplicaFacts, replica_facts
from dockyard.engine.failures import Handle, engine_error
from dockyard.engine.secretfiles import remove_secret_files


def stop_and_remove(engine: Handle, container_id: str, name: str, grace: float) -> bool:
    """Stop (SIGTERM, SIGKILL after `grace`), remove, and delete its secret files on tmpfs.
    False when the container was gone already."""
    try:
        container = engine.client.containers.get(container_id)
        secrets_dir = (container.labels or {}).get(L.SECRETS_DIR)
        container.stop(timeout=int(grace))
        container.remove(force=True)
    except docker.errors.NotFound:
        return False
    except DockerError as exc:
        raise engine_error(f"removing {name}", exc) from exc
    remove_secret_files(secrets_dir)
    return True


def stop_container(engine: Handle, container_id: str, name: str, grace: float) -> None:
    """Stop it (SIGTERM, SIGKILL after `grace`) and keep it, to be started again as it is."""
    try:
        engine.client.containers.get(container_id).stop(timeout=int(grace))
    except DockerError as exc:
        raise engine_error(f"stopping {name}", exc) from exc


def start_container(engine: Handle, container_id: str, name: str) -> ReplicaFacts:
    """Start a stopped container again; the container as it is then, for a health wait."""
    try:
        container = engine.client.containers.get(container_id)
        container.start()
        container.reload()
    except DockerError as exc:
        raise engine_error(f"starting {name}", exc) from exc
    return replica_facts(container.attrs)


def remove_services(engine: Handle, app: str, env: str) -> list[str]:
    """Remove every Swarm service of the app's environment (Swarm stops their tasks), then the
    configs and secrets they used; the services' names."""
    filters = L.scope_filters(app, env)
    try:
        services = engine.client.services.list(filters=filters)
        for service in services:
            service.remove()
        # a config or secret stays in use until the service's tasks are gone: a few tries
        for kind in (engine.client.configs, engine.client.secrets):
            for item in kind.list(filters=filters):
                _remove_when_unused(item)
    except DockerError as exc:
        raise engine_error(f"removing the services of {app}/{env}", exc) from exc
    return sorted(s.name for s in services)


def _remove_when_unused(item: Any, tries: int = 50) -> None:
    for attempt in range(tries):
        try:
            item.remove()
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as exc:
            if exc.status_code != 400 or attempt == tries - 1:  # 400: still in use by a task
                raise
            time.sleep(0.2)

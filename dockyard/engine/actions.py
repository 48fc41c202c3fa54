"""Actions on containers that every path shares: one stop-and-remove, with its secret clean-up."""

from __future__ import annotations

import docker.errors

from dockyard.engine import labels as L
from dockyard.engine.api import DockerError
from dockyard.engine.client import Engine, engine_error
from dockyard.engine.secretfiles import remove_secret_files


def stop_and_remove(engine: Engine, container_id: str, name: str, grace: float) -> bool:
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

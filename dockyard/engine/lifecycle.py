"""A replica's life on one engine, in docker-py's calls: create it from a ReplicaSpec, copy files
into it, start, rename, read its last lines, remove.

Each function takes docker-py's client and lets its failures through, but for the two a deploy
answers differently from any other failure: a name already held (NameTaken) and a published
port already taken (PortTaken). `Engine`'s verbs (engine/client.py) translate the rest.

A container known by its id is acted on through the low-level API in one request: docker-py's
`containers.get(id).start()` would inspect it first, a round trip per step of a deploy for nothing.
"""

from __future__ import annotations

from typing import Any

import docker.errors
from docker.models.containers import _create_container_args  # containers.create's own (docker==7.2.0, pinned)

from dockyard.engine.containers import ReplicaSpec, create_kwargs, replica_labels
from dockyard.engine.facts import ReplicaFacts
from dockyard.engine.interface import NameTaken, PortTaken

__all__ = ["NameTaken", "PortTaken", "create", "last_lines", "put_archive", "remove", "rename", "start"]


def create(client: Any, spec: ReplicaSpec, name: str) -> ReplicaFacts:
    """Create it (not start it); what is known of it then. docker-py's containers.create would inspect
    it after the create, a request nothing here reads: the health wait inspects it once it runs."""
    arguments = _create_container_args({**create_kwargs(spec, name), "version": client.api.api_version})
    try:
        made = client.api.create_container(**arguments)
    except docker.errors.APIError as exc:
        if "is already in use" in str(exc.explanation or exc):
            raise NameTaken(f"creating {name}: {exc.explanation or exc}") from exc
        raise
    return created(made["Id"], name, spec)


def created(container_id: str, name: str, spec: ReplicaSpec) -> ReplicaFacts:
    """Pure: a container just created from `spec`: what Dockyard set on it (an inspect would add the
    image's labels, its paths and the zeroes of a container that never ran)."""
    return ReplicaFacts(id=container_id, name=name, labels=replica_labels(spec), image=spec.image,
                        asks_ports=bool(spec.port), nano_cpus=int(spec.cpus * 1e9) if spec.cpus else 0)


def put_archive(client: Any, container_id: str, archive: bytes) -> None:
    client.api.put_archive(container_id, "/", archive)


def start(client: Any, container_id: str, name: str) -> None:
    try:
        client.api.start(container_id)
    except docker.errors.APIError as exc:
        text = str(exc.explanation or exc)
        if "address already in use" in text or "port is already allocated" in text:
            raise PortTaken(f"starting {name}: {text}") from exc
        raise


def rename(client: Any, container_id: str, name: str) -> None:
    client.api.rename(container_id, name)


def remove(client: Any, container_id: str) -> None:
    client.api.remove_container(container_id, force=True)


def last_lines(client: Any, container_id: str, lines: int) -> str:
    return str(client.api.logs(container_id, tail=lines).decode(errors="replace"))

"""What a container's folder on the engine's host says about it (/var/lib/docker/containers/<id>/).

Docker keeps a container's definition and state in `config.v2.json` there. Reading it needs no
engine connection (the log forwarder can run in a container with only that folder mounted) and it
survives a container that is gone from the engine while its files are still there.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import orjson

from dockyard.engine.facts import ReplicaFacts, replica_facts

__all__ = ["CONFIG", "config_mtime", "parse_config", "read_config"]

CONFIG = "config.v2.json"


def parse_config(container_id: str, data: bytes) -> ReplicaFacts:
    """Pure: a `config.v2.json` -> the container's facts (its name, image, labels and state)."""
    return replace(replica_facts(orjson.loads(data)), id=container_id)


def read_config(directory: Path, container_id: str) -> ReplicaFacts | None:
    """The facts in the container's folder; None when it has none (yet, or any more)."""
    try:
        return parse_config(container_id, (directory / CONFIG).read_bytes())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except orjson.JSONDecodeError:
        return None  # being rewritten by dockerd: try again on the next scan


def config_mtime(directory: Path) -> float | None:
    """When the container's definition or state last changed (a rename, a start)."""
    try:
        return os.stat(directory / CONFIG).st_mtime
    except OSError:
        return None

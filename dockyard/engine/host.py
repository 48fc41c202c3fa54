"""What an engine says about itself and its Swarm: its version, its cgroup driver, its node, the
names of the services it manages, in docker-py's calls.

Each function takes docker-py's client and lets its failures through; `Engine`'s verbs
(engine/client.py) translate them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cgroup_driver", "containers_folder", "containers_root", "node_id", "service_names", "version"]


def version(client: Any) -> str | None:
    """The engine's version (20.10.24, ...)."""
    found = client.version().get("Version")
    return None if found is None else str(found)


def cgroup_driver(client: Any) -> str:
    """How the engine places containers in cgroups: cgroupfs or systemd."""
    return str(client.info().get("CgroupDriver") or "cgroupfs")


def containers_folder(info: dict[str, Any]) -> str:
    """The folder of the engine's containers (their json-file logs): under its data root, which a
    site may have moved from /var/lib/docker (dockerd --data-root)."""
    return f"{(info.get('DockerRootDir') or '/var/lib/docker').rstrip('/')}/containers"


def containers_root(client: Any) -> str:
    return containers_folder(client.info())


def node_id(client: Any) -> str | None:
    """The Swarm node the engine is; None outside a Swarm."""
    found = (client.info().get("Swarm") or {}).get("NodeID")
    return str(found) if found else None


def service_names(client: Any) -> dict[str, str]:
    """Every Swarm service: id -> name."""
    return {s["ID"]: s["Spec"]["Name"] for s in client.api.services()}

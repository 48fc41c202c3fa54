"""What a container is: its name, image, labels and state, from its folder on the host.

The engine's `container_files` reads Docker's `config.v2.json` there: it needs no engine
connection (the forwarder can run in a container with only the log folder mounted) and it
survives a container that is gone from the engine while its files are still there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dockyard.engine import container_files
from dockyard.engine.container_files import config_mtime
from dockyard.engine.facts import ReplicaFacts

__all__ = ["ContainerMeta", "config_mtime", "from_facts", "matches", "parse_selectors", "read_meta"]


@dataclass(frozen=True)
class ContainerMeta:
    cid: str
    name: str = ""
    image: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    running: bool = True


def from_facts(facts: ReplicaFacts) -> ContainerMeta:
    """Pure: what the forwarder keeps of a container (restarting counts as running: it comes back)."""
    return ContainerMeta(cid=facts.id, name=facts.name, image=facts.image, labels=dict(facts.labels),
                         running=facts.running or facts.restarting)


def read_meta(directory: Path, cid: str) -> ContainerMeta | None:
    facts = container_files.read_config(directory, cid)
    return None if facts is None else from_facts(facts)


def matches(meta: ContainerMeta, selectors: dict[str, str | None]) -> bool:
    """Label selectors: KEY=VALUE must be equal, KEY alone (value None) must exist."""
    for key, value in selectors.items():
        if key not in meta.labels or (value is not None and meta.labels[key] != value):
            return False
    return True


def parse_selectors(items: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in items:
        key, sep, value = item.partition("=")
        out[key] = value if sep else None
    return out

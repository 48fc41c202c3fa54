"""What a container is: its name, image, labels and state, from the engine or from its folder.

`config.v2.json` in the container's folder is read first: it needs no engine connection (the
forwarder can run in a container with only the log folder mounted) and it survives a container
that is gone from the engine while its files are still there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson


@dataclass(frozen=True)
class ContainerMeta:
    cid: str
    name: str = ""
    image: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    running: bool = True


def parse_config_v2(cid: str, data: bytes) -> ContainerMeta:
    """Docker's `config.v2.json` -> ContainerMeta. Pure."""
    doc: dict[str, Any] = orjson.loads(data)
    config = doc.get("Config") or {}
    state = doc.get("State") or {}
    return ContainerMeta(
        cid=cid,
        name=(doc.get("Name") or "").lstrip("/"),
        image=config.get("Image") or "",
        labels=dict(config.get("Labels") or {}),
        running=bool(state.get("Running") or state.get("Restarting")),
    )


def from_inspect(attrs: dict[str, Any]) -> ContainerMeta:
    """The Engine API's container inspect body -> ContainerMeta. Pure."""
    config = attrs.get("Config") or {}
    state = attrs.get("State") or {}
    return ContainerMeta(
        cid=attrs["Id"],
        name=(attrs.get("Name") or "").lstrip("/"),
        image=config.get("Image") or "",
        labels=dict(config.get("Labels") or {}),
        running=bool(state.get("Running") or state.get("Restarting")),
    )


def read_meta(directory: Path, cid: str) -> ContainerMeta | None:
    try:
        return parse_config_v2(cid, (directory / "config.v2.json").read_bytes())
    except (FileNotFoundError, NotADirectoryError):
        return None
    except orjson.JSONDecodeError:
        return None  # being rewritten by dockerd: try again on the next scan


def config_mtime(directory: Path) -> float | None:
    try:
        return os.stat(directory / "config.v2.json").st_mtime
    except OSError:
        return None


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

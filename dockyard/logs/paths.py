"""Where the host's log store, spool and forwarder state live: a name without the store's code, so
`dockyard logs ENV` reading the engine (no store here) does not load the store and the spool."""

from __future__ import annotations

from pathlib import Path

from dockyard import settings

__all__ = ["default_state_dir"]


def default_state_dir() -> Path:
    """Where the host's log store, spool and forwarder state live."""
    return settings.home() / "logs"

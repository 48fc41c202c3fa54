"""A container's own output as its engine keeps it (json-file), by stream, with each line's time:
what `dockyard logs` reads where no agent keeps a log store. Over engine/wire.py: a read command."""

from __future__ import annotations

from dockyard.engine.wire import Wire


def container_lines(wire: Wire, container_id: str, tail: int, since: float | None = None
                    ) -> list[tuple[str, str, str]]:
    """(RFC 3339 time, stream, text) of the container's last `tail` lines of each stream, newer than
    `since` (seconds since the epoch); [] for a container gone meanwhile."""
    found = []
    for stream in ("stdout", "stderr"):
        raw = wire.logs(container_id, stream, tail, since)
        if raw is None:
            return []
        for line in raw.decode(errors="replace").splitlines():
            stamp, _, text = line.partition(" ")
            if stamp:
                found.append((stamp, stream, text))
    return found

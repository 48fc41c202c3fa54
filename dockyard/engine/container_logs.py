"""A container's own output as its engine keeps it (json-file), by stream, with each line's time:
what `dockyard logs` reads where no agent keeps a log store."""

from __future__ import annotations

from dockyard.engine.api import DockerError, DockerNotFound
from dockyard.engine.failures import Handle, engine_error


def container_lines(engine: Handle, container_id: str, tail: int, since: float | None = None
                    ) -> list[tuple[str, str, str]]:
    """(RFC 3339 time, stream, text) of the container's last `tail` lines of each stream, newer than
    `since` (seconds since the epoch); [] for a container gone meanwhile."""
    found = []
    for stream in ("stdout", "stderr"):
        try:
            raw = engine.client.api.logs(container_id, stdout=stream == "stdout", stderr=stream == "stderr",
                                         timestamps=True, tail=tail, since=since)
        except DockerNotFound:
            return []
        except DockerError as exc:
            raise engine_error(f"reading the logs of {container_id[:12]}", exc) from exc
        for line in raw.decode(errors="replace").splitlines():
            stamp, _, text = line.partition(" ")
            if stamp:
                found.append((stamp, stream, text))
    return found

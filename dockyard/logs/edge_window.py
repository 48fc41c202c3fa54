"""One environment's requests at the host's edge, as they are written: what a canary rollout judges.

The edge's access logs (one file per HAProxy process, logs/edge_source.ACCESS_FILES) are read from
where the last look left off, each kept open once seen: the agent's forwarder deletes a file once
its process has exited and it has shipped it, and an open file is still read to its end. A file last
written before the span began is read from its end."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from dockyard.logs.edge_access import Access, parse_access
from dockyard.logs.edge_source import ACCESS_FILES


class EdgeTraffic:
    """The requests of app/env since `since` (epoch s): those a track (canary, stable) answered, or
    every one where not `tracked`."""

    def __init__(self, directory: Path, app: str, env: str, since: float, tracked: bool = True) -> None:
        self.directory, self.app, self.env, self.since, self.tracked = directory, app, env, since, tracked
        self.files: dict[str, BinaryIO] = {}
        self.partial: dict[str, bytes] = {}

    def take(self) -> list[Access]:
        """What was written since the last look."""
        found: list[Access] = []
        for path in sorted(self.directory.glob(ACCESS_FILES)):
            if path.name not in self.files:
                self._open(path)
        for name, f in list(self.files.items()):
            data = self.partial.pop(name, b"") + f.read()
            lines = data.split(b"\n")
            if lines[-1]:
                self.partial[name] = lines[-1]
            for raw in lines[:-1]:
                entry = parse_access(raw)
                if entry is not None and self._mine(entry):
                    found.append(entry)
            if not (self.directory / name).exists():  # deleted, and now read to its end
                f.close()
                del self.files[name]
        return found

    def _mine(self, entry: Access) -> bool:
        return (entry.app, entry.env) == (self.app, self.env) and (bool(entry.track) or not self.tracked) \
            and entry.time_ns >= self.since * 1e9

    def _open(self, path: Path) -> None:
        try:
            f = path.open("rb")
        except OSError:
            return
        if os.fstat(f.fileno()).st_mtime < self.since - 1:  # nothing of the span in it yet
            f.seek(0, os.SEEK_END)
        self.files[path.name] = f

    def close(self) -> None:
        for f in self.files.values():
            f.close()
        self.files.clear()

"""The edge's access log as a source of the forwarder: read, tagged per environment, rotated.

Each HAProxy process of the edge writes an access log of its own, `access-<start ns>.log` (its
stdout, one write per request). The reader keeps its place like a container's (a file identity
and an offset, in the journal with the lines it covers), reads the files in name order, and is the
one that rotates: past `max_bytes` it has the edge reload, whose new process writes a new file.
The old processes finish what they held at the reload and go on writing their own files until they
exit: so a file is read to its end, and deleted, only once a newer one exists and no process of the
edge holds it open (/proc/PID/fd). No line is read from a file that can still grow and then left
behind.

Each request becomes a line of its environment (app, env, service "edge", container "edge"), so
`dockyard logs ENV` and every sink get them as they get a container's; what no environment
answered goes to a container "edge" with no app.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.logs.edge_access import EDGE_SERVICE, Access, parse_access
from dockyard.logs.files import fingerprint
from dockyard.logs.jsonfile import STDOUT, Line
from dockyard.logs.spool import Append, Batch
from dockyard.logs.tailer import READ_SIZE, Loss, OpenFile, Position

if TYPE_CHECKING:
    from dockyard.logs.edge_metrics import EdgeMetrics

EDGE_SOURCE = "edge-access"  # its read position's key in the journal (beside containers' ids)
ACCESS_FILES = "access-*.log"  # one per edge process, named by its start (router/edge_render.EdgePaths)


@dataclass
class EdgeLogConfig:
    directory: Path  # where the access-*.log files are
    writers: Callable[[], set[int]]  # pids that may hold a log open (the edge's processes)
    reopen: Callable[[], None]  # have the edge write a new file (a reload)
    max_bytes: int = 64 << 20  # rotate past this
    check_every: float = 0.5  # seconds between looks at who holds a renamed file


@dataclass
class EdgeRead:
    appends: list[Append]
    bytes: int
    bad: int


def held_open(ino: int, dev: int, pids: set[int], proc: Path = Path("/proc")) -> bool:
    """Whether any of `pids` has the file (dev, ino) open."""
    for pid in pids:
        try:
            fds = os.listdir(proc / str(pid) / "fd")
        except OSError:
            continue  # gone, or not ours to look at
        for fd in fds:
            try:
                st = os.stat(proc / str(pid) / "fd" / fd)
            except OSError:
                continue
            if st.st_ino == ino and st.st_dev == dev:
                return True
    return False


def tags(host: str, app: str, env: str) -> dict[str, str]:
    return {"host": host, "container_id": EDGE_SOURCE, "container": "edge", "image": "haproxy", "app": app,
            "env": env, "service": EDGE_SERVICE if app else "", "release": ""}


class EdgeAccessLog:
    def __init__(self, config: EdgeLogConfig, start: Position | None, on_loss: Callable[[Loss], None],
                 host: str, metrics: EdgeMetrics) -> None:
        self.config = config
        self.on_loss = on_loss
        self.host = host
        self.metrics = metrics
        self.files: list[OpenFile] = []  # oldest first: those of old processes still being finished, the newest
        self._next_check = 0.0
        self._open_initial(start)

    # ---------------------------------------------------------------- files

    def _open(self, name: str) -> OpenFile | None:
        try:
            fd = os.open(self.config.directory / name, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        ino = os.fstat(fd).st_ino
        return OpenFile(fd, ino, name, fingerprint(fd, ino))

    def _on_disk(self) -> list[str]:
        return sorted(path.name for path in self.config.directory.glob(ACCESS_FILES))

    def _open_initial(self, start: Position | None) -> None:
        files = [f for f in (self._open(name) for name in self._on_disk()) if f is not None]
        if start is not None and files:
            keys = [f.key for f in files]
            if start.file in keys:
                at = keys.index(start.file)
                for done in files[:at]:  # read to their end before we stopped, not deleted yet
                    self._delete(done)
                    os.close(done.fd)
                files = files[at:]
                files[0].offset = start.offset
            else:
                self.on_loss(Loss(EDGE_SOURCE, f"the edge's access log was rotated away before it was read from "
                                               f"byte {start.offset}; the requests logged after that are lost"))
        self.files = files

    def refresh(self) -> bool:
        """Notice the file of a new edge process; have the edge rotate a big one (True)."""
        newest = self.files[-1].name if self.files else ""
        for name in self._on_disk():
            if name > newest:
                opened = self._open(name)
                if opened is not None:
                    self.files.append(opened)
        if len(self.files) == 1 and os.fstat(self.files[0].fd).st_size >= self.config.max_bytes:
            self.config.reopen()
            return True
        return False

    def _finished(self, f: OpenFile) -> bool:
        """A renamed file nobody can write any more (checked at most every `check_every` s)."""
        now = time.monotonic()
        if now < self._next_check:
            return False
        self._next_check = now + self.config.check_every
        st = os.fstat(f.fd)
        return not held_open(st.st_ino, st.st_dev, self.config.writers())

    def position(self) -> Position | None:
        if self.files and self.files[0].key:
            return Position(self.files[0].key, self.files[0].offset)
        return None

    # ---------------------------------------------------------------- reading

    def read(self) -> EdgeRead | None:
        """The next complete lines, as appends per environment plus the position past them."""
        while self.files:
            f = self.files[0]
            if f.key is None:
                f.key = fingerprint(f.fd, f.ino)
                if f.key is None:
                    return None  # not one complete line yet
            last_look = len(self.files) > 1  # a newer process writes its own: this file ends when its writer exits
            if last_look and not self._finished(f):
                last_look = False  # still held: read what is there, come back for the rest
            data = os.pread(f.fd, READ_SIZE, f.offset)
            end = data.rfind(b"\n") + 1
            if end:
                return self._lines(f, data[:end])
            if not last_look:
                return None
            if data:
                self.on_loss(Loss(EDGE_SOURCE, f"{f.name}: an unfinished line at its end", len(data)))
            self._finish(f)
            if self.position() is not None:  # the journal learns the move even if no line follows yet
                return EdgeRead([Append(EDGE_SOURCE, self.position())], 0, 0)
        return None

    def _lines(self, f: OpenFile, data: bytes) -> EdgeRead:
        by_env: dict[tuple[str, str], list[Line]] = {}
        entries: list[Access] = []
        bad = 0
        offset = f.offset
        for raw in data.split(b"\n")[:-1]:
            entry = parse_access(raw)
            if entry is None:
                bad += 1
            else:
                entries.append(entry)
                by_env.setdefault((entry.app, entry.env), []).append((offset, entry.time_ns, STDOUT, entry.message))
            offset += len(raw) + 1
        f.offset = offset
        self.metrics.observe(entries)
        assert f.key is not None
        appends = [Append(cid, None, Batch(cid, f.key, tags(self.host, app, env), lines))
                   for (app, env), lines in by_env.items() for cid in [f"edge:{app}/{env}" if app else "edge"]]
        appends.append(Append(EDGE_SOURCE, self.position()))
        return EdgeRead(appends, len(data), bad)

    def _finish(self, f: OpenFile) -> None:
        self._delete(f)
        os.close(f.fd)
        self.files.pop(0)

    def _delete(self, f: OpenFile) -> None:
        try:
            if os.stat(self.config.directory / f.name).st_ino == f.ino:
                os.unlink(self.config.directory / f.name)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        for f in self.files:
            os.close(f.fd)
        self.files = []

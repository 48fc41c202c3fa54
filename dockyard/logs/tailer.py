"""Follow one container's json-file logs across rotation, from the start or a saved position.

The tailer holds every file of the chain open from the moment it sees it: a file Docker rotates
(renames) or deletes (max-file) while lines are unread stays readable through the open
descriptor, and so does every file of a container that was removed. A rotated file is read to
its end before the next one: Docker closes a file before it creates its successor, so once a
successor has been seen, reading the old file to EOF gets all of it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dockyard.logs.files import ChainEntry, fingerprint, log_name, scan_chain
from dockyard.logs.jsonfile import Joiner
from dockyard.logs.lines import Lines

READ_SIZE = 1 << 20
MAX_READ_SIZE = 64 << 20


@dataclass(frozen=True)
class Position:
    """Where reading resumes: a file identity and a byte offset in it."""

    file: str
    offset: int


@dataclass(frozen=True)
class Loss:
    cid: str
    what: str
    bytes: int | None = None


@dataclass
class Read:
    file: str  # identity of the file the lines come from
    lines: Lines
    position: Position | None
    bytes: int = 0
    bad: int = 0


@dataclass
class OpenFile:
    fd: int
    ino: int
    name: str
    key: str | None = None
    offset: int = 0


class Tailer:
    def __init__(self, cid: str, directory: Path, start: Position | None,
                 on_loss: Callable[[Loss], None]) -> None:
        self.cid = cid
        self.dir = directory
        self.live = str(directory / log_name(cid))  # the file being written; stat each refresh
        self.on_loss = on_loss
        self.files: list[OpenFile] = []
        self.finished: dict[int, int] = {}  # inode -> size, for read files still on disk
        self.joiner = Joiner()
        self.removed = False
        self.at_eof = False
        self.read_size = READ_SIZE
        self.last_data = time.monotonic()  # when read() last returned lines: how busy the container is
        self._open_initial(start)

    # ---------------------------------------------------------------- opening

    def _open(self, entry: ChainEntry, offset: int = 0) -> OpenFile | None:
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        if os.fstat(fd).st_ino != entry.ino:  # rotated between scan and open
            os.close(fd)
            return None
        return OpenFile(fd, entry.ino, entry.path.name, fingerprint(fd, entry.ino), offset)

    def _open_initial(self, start: Position | None) -> None:
        for _ in range(10):
            chain = scan_chain(self.dir, self.cid)
            if chain is None:
                self.removed = True
                if start is not None:
                    self.on_loss(Loss(self.cid, f"container folder gone before reading from {start.offset} of "
                                                f"{start.file}: its unread lines are lost"))
                return
            opened = [self._open(e) for e in chain]
            if all(opened):
                break
            for f in opened:
                if f:
                    os.close(f.fd)
        else:
            raise OSError(f"{self.dir}: log files rotate too fast to open them")
        files = [f for f in opened if f]
        if start is not None:
            keys = [f.key for f in files]
            if start.file in keys:
                idx = keys.index(start.file)
                for f in files[:idx]:
                    self.finished[f.ino] = os.fstat(f.fd).st_size
                    os.close(f.fd)
                files = files[idx:]
                files[0].offset = start.offset
            else:
                self.on_loss(Loss(self.cid, f"file {start.file} was rotated away before it was read to the end "
                                            f"(from byte {start.offset}); its unread lines are lost"))
        self.files = files

    def refresh(self) -> None:
        """Notice new files (rotation) and a removed container. Call before read()."""
        if self.files:
            try:
                if os.stat(self.live).st_ino == self.files[-1].ino:
                    return  # the live file is still the newest one we hold open: nothing rotated
            except FileNotFoundError:
                pass  # rotating right now, or the container is gone: the full scan tells
        chain = scan_chain(self.dir, self.cid)
        if chain is None:
            self.removed = True
            return
        present = {e.ino: e for e in chain}
        self.finished = {ino: size for ino, size in self.finished.items()
                         if ino in present and present[ino].size == size}
        known = {f.ino for f in self.files}
        seen_any = any(e.ino in known or e.ino in self.finished for e in chain)
        new = [e for e in chain if e.ino not in known and e.ino not in self.finished]
        if not new:
            return
        if (self.files or self.finished) and not seen_any:
            self.on_loss(Loss(self.cid, "log files were created and rotated away between two scans; "
                                        "some lines may be lost (raise max-file or max-size)"))
        for entry in new:
            opened = self._open(entry)
            if opened is None:
                return  # it moved: the next refresh sees the chain as it is then
            self.files.append(opened)

    # ---------------------------------------------------------------- reading

    def position(self) -> Position | None:
        pending = self.joiner.pending
        if pending is not None:
            return Position(pending.file, pending.offset)
        if self.files and self.files[0].key:
            return Position(self.files[0].key, self.files[0].offset)
        return None

    def read(self) -> Read | None:
        """The next complete lines of the current file, or None at the end of the chain."""
        while self.files:
            f = self.files[0]
            if f.key is None:
                f.key = fingerprint(f.fd, f.ino)
                if f.key is None:
                    if len(self.files) > 1:
                        self._finish(f)
                        continue
                    break
            # Only what is there: a read of read_size bytes at the end of a file costs a buffer of that
            # size (1 MiB) for nothing, and most reads of a quiet container's log are at its end.
            size = os.fstat(f.fd).st_size
            data = os.pread(f.fd, min(self.read_size, size - f.offset), f.offset) if size > f.offset else b""
            chunk = self.joiner.parse(data, f.offset, f.key)
            if chunk.consumed == 0 and len(data) == self.read_size and self.read_size < MAX_READ_SIZE:
                self.read_size *= 2
                continue
            if chunk.consumed:
                f.offset += chunk.consumed
                self.at_eof = False
                self.last_data = time.monotonic()
                return Read(f.key, chunk.lines, self.position(), chunk.consumed, chunk.bad)
            if len(self.files) > 1:
                if data:
                    self.on_loss(Loss(self.cid, f"{f.name}: an unfinished json line at its end", len(data)))
                self._finish(f)
                continue
            if size < f.offset:
                self.on_loss(Loss(self.cid, f"{f.name} was truncated at {f.offset} (max-file=1?): "
                                            "lines written since the last read are lost"))
                f.offset = 0
                f.key = fingerprint(f.fd, f.ino)
                continue
            break
        self.at_eof = True
        return None

    def flush(self) -> Read | None:
        """At the end of a stopped container's output: its last line had no newline."""
        flushed = self.joiner.flush()
        if flushed is None:
            return None
        file, line = flushed
        return Read(file, Lines.of([line]), self.position())

    def _finish(self, f: OpenFile) -> None:
        self.finished[f.ino] = os.fstat(f.fd).st_size
        os.close(f.fd)
        self.files.pop(0)

    def close(self) -> None:
        for f in self.files:
            os.close(f.fd)
        self.files = []

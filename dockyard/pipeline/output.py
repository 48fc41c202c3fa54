"""A step's output: appended in linear time, its last KEEP bytes kept in the state database (its
rows: pipeline/store.py), and all of it in a log file beside the database while that is kept.

Each append adds rows to step_output and never rewrites what came before (`output || ?` did,
and a build printing 300,000 lines took five minutes and a 1.5 GB WAL). A row is keyed by the
offset of its first byte in everything the step printed, so a reader that follows a step asks
for what came after the offset it has seen, and sees each line once, in order. Past KEEP the
oldest rows go, and whoever reads from before them gets a note of what was cut.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

KEEP = 5 * 1024 * 1024  # bytes of each step's output kept in the state database (the last ones)
CHUNK = 64 * 1024  # characters per row at most: past KEEP, rows go whole
FULL_LOG_LIMIT = 256 * 1024 * 1024  # bytes: a step's full log stops growing here (a loop must not fill the disk)
FULL_LOG_DAYS = 14.0  # a run's full logs are removed this long after it ended


@dataclass(frozen=True)
class Piece:
    """Output read from `start` (a byte offset) up to `end`, after a note of what was cut before it."""
    text: str
    start: int
    end: int


def pieces(text: str, limit: int = CHUNK) -> Iterator[str]:
    """`text` in parts of at most `limit` characters that end at a line's end (a longer line stays whole)."""
    begin = 0
    while len(text) - begin > limit:
        cut = text.rfind("\n", begin, begin + limit) + 1
        if cut <= begin:
            cut = text.find("\n", begin + limit) + 1 or len(text)
        yield text[begin:cut]
        begin = cut
    if begin < len(text):
        yield text[begin:]


def cut_note(run_id: int, cut: int, printed: int) -> str:
    return (f"[... {cut} bytes cut: the step printed {printed} bytes and the last {KEEP // 1024 // 1024} MiB"
            f" are kept; the full log: dockyard pipeline logs {run_id} --full]\n")


class FullLogs:
    """Each step's whole output in a file of its own under `folder` (runs/RUN/STEP.log)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, run_id: int, idx: int) -> Path | None:
        path = self.folder / str(run_id) / f"{idx}.log"
        return path if path.is_file() else None

    def write(self, run_id: int, idx: int, text: str) -> None:
        folder = self.folder / str(run_id)
        if not folder.is_dir():
            self.folder.mkdir(mode=0o700, exist_ok=True)
            folder.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(folder / f"{idx}.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size >= FULL_LOG_LIMIT:
                return
            data = text.encode()
            if size + len(data) >= FULL_LOG_LIMIT:
                data += (f"[the full log stops here, at {FULL_LOG_LIMIT // 1024 // 1024} MiB; the run keeps the"
                         " step's last output]\n").encode()
            os.write(fd, data)
        finally:
            os.close(fd)

    def prune(self, days: float, ended_before: Callable[[int, float], bool]) -> list[int]:
        """Remove the full logs of the runs `ended_before` says ended before `days` ago (or are gone)."""
        if not self.folder.is_dir():
            return []
        before, removed = time.time() - days * 86400, []
        for entry in self.folder.iterdir():
            if entry.name.isdigit() and ended_before(int(entry.name), before):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(int(entry.name))
        return removed


def from_line(start: int, text: str, offset: int) -> tuple[int, str]:
    """The row's text from `offset` on, moved on to the next line's start if it falls inside a line."""
    if offset <= start:
        return start, text
    data = text.encode()
    pos = offset - start
    if data[pos - 1:pos] != b"\n":
        newline = data.find(b"\n", pos)
        pos = newline + 1 if newline >= 0 else len(data)
    return start + pos, data[pos:].decode(errors="replace")

"""A step's output: appended in linear time, its last KEEP bytes kept in the state database, and
all of it in a log file beside the database while that is kept.

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class StepOutput:
    """The output rows of the state database `conn`, and the full logs under `folder`."""

    def __init__(self, conn: Any, folder: Path) -> None:
        self.conn = conn
        self.folder = folder

    def append(self, run_id: int, idx: int, text: str) -> None:
        """Add `text` (a line is ended) to the step's output, inside the caller's transaction."""
        row = self.conn.execute("SELECT printed FROM steps WHERE run_id=? AND idx=?", (run_id, idx)).fetchone()
        if row is None or not text:
            return
        text = text if text.endswith("\n") else text + "\n"
        printed = row[0]
        rows = []
        for part in pieces(text):
            size = len(part.encode())
            rows.append((run_id, idx, printed, size, part))
            printed += size
        self.conn.executemany("INSERT INTO step_output (run_id, idx, start, size, text) VALUES (?,?,?,?,?)", rows)
        self.conn.execute("UPDATE steps SET printed=?, lines=lines+? WHERE run_id=? AND idx=?",
                          (printed, text.count("\n"), run_id, idx))
        window = printed - KEEP
        if window > 0:  # the rows wholly before the last KEEP bytes
            self.conn.execute("DELETE FROM step_output WHERE run_id=? AND idx=? AND start < ? AND start + size <= ?",
                              (run_id, idx, window, window))
        self._write_full(run_id, idx, text)

    def since(self, run_id: int, idx: int, offset: int) -> Piece:
        """What the step printed after byte `offset`, from a line's start; a note first when part of
        it is no longer kept."""
        row = self.conn.execute("SELECT printed FROM steps WHERE run_id=? AND idx=?", (run_id, idx)).fetchone()
        printed = row[0] if row else 0
        if offset >= printed:
            return Piece("", offset, offset)
        begin = max(offset, printed - KEEP)
        rows = self.conn.execute(
            "SELECT start, size, text FROM step_output WHERE run_id=? AND idx=? AND start >= (SELECT COALESCE("
            "MAX(start), 0) FROM step_output WHERE run_id=? AND idx=? AND start <= ?) ORDER BY start",
            (run_id, idx, run_id, idx, begin)).fetchall()
        if not rows:
            return Piece("", offset, offset)
        start, first = _from_line(rows[0][0], rows[0][2], begin)
        text = first + "".join(r[2] for r in rows[1:])
        end = rows[-1][0] + rows[-1][1]
        note = cut_note(run_id, start - offset, max(printed, end)) if start > offset else ""
        return Piece(note + text, start, end)

    # the full log -------------------------------------------------------
    def full_log(self, run_id: int, idx: int) -> Path | None:
        path = self.folder / str(run_id) / f"{idx}.log"
        return path if path.is_file() else None

    def _write_full(self, run_id: int, idx: int, text: str) -> None:
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

    def prune(self, days: float = FULL_LOG_DAYS) -> list[int]:
        """Remove the full logs of runs that ended more than `days` ago (or are gone); their ids."""
        if not self.folder.is_dir():
            return []
        before, removed = time.time() - days * 86400, []
        for entry in self.folder.iterdir():
            if not entry.name.isdigit():
                continue
            row = self.conn.execute("SELECT ended_at FROM runs WHERE id=?", (int(entry.name),)).fetchone()
            if row is None or (row[0] is not None and row[0] < before):
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(int(entry.name))
        return removed


def _from_line(start: int, text: str, offset: int) -> tuple[int, str]:
    """The row's text from `offset` on, moved on to the next line's start if it falls inside a line."""
    if offset <= start:
        return start, text
    data = text.encode()
    pos = offset - start
    if data[pos - 1:pos] != b"\n":
        newline = data.find(b"\n", pos)
        pos = newline + 1 if newline >= 0 else len(data)
    return start + pos, data[pos:].decode(errors="replace")

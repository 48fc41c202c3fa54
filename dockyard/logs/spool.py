"""The disk spool between reading and shipping, with the read positions and the loss record.

One SQLite database (WAL). Lines read are appended as batches in the SAME transaction that moves
the container's read position past them: a position is never durable before the lines it
covers are, so a crash replays but never skips. Each sink has an ack mark (the last batch it
acknowledged); a batch is deleted when every sink has acknowledged it. The spool has a size
bound: when full, the reader pauses (the json-file logs keep the lines meanwhile), it never drops.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from dockyard import settings
from dockyard.errors import DockyardError
from dockyard.logs.lines import Line, Lines
from dockyard.logs.tailer import Loss, Position

SCHEMA = """
create table if not exists spool(id integer primary key autoincrement, cid text not null, lines integer not null,
                                 bytes integer not null, body blob not null);
create table if not exists positions(cid text primary key, file text not null, offset integer not null,
                                     updated real not null);
create table if not exists acks(sink text primary key, id integer not null);
create table if not exists losses(id integer primary key, at real not null, cid text not null,
                                  what text not null, bytes integer);
create table if not exists rejects(id integer primary key, at real not null, sink text not null,
                                   cid text not null, lines integer not null, reason text not null);
"""

UPSERT_POSITION = ("insert into positions(cid, file, offset, updated) values (?, ?, ?, ?) on conflict(cid) "
                   "do update set file=excluded.file, offset=excluded.offset, updated=excluded.updated")


@dataclass
class Batch:
    """Lines of one container and one file, oldest first, with the container's tags."""

    cid: str
    file: str
    tags: dict[str, Any]
    lines: Lines | list[Line]  # columns from a json-file read; records from elsewhere (the edge, a spool)
    id: int = 0

    def encode(self) -> bytes:
        lines = list(self.lines) if isinstance(self.lines, Lines) else self.lines
        return orjson.dumps([self.cid, self.file, self.tags, lines])

    @classmethod
    def decode(cls, batch_id: int, body: bytes) -> Batch:
        cid, file, tags, lines = orjson.loads(body)
        return cls(cid, file, tags, lines, batch_id)


@dataclass
class Append:
    cid: str
    position: Position | None
    batch: Batch | None = None


@dataclass
class SpoolStats:
    batches: int = 0
    bytes: int = 0
    lines: int = 0
    acks: dict[str, int] = field(default_factory=dict)


class Spool:
    def __init__(self, path: Path, sinks: list[str], max_bytes: int = 256 << 20, synchronous: str = "NORMAL") -> None:
        settings.private_dir(path.parent)
        settings.private_file(path)
        try:
            self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            self.db.execute("pragma journal_mode=wal")
            self.db.execute(f"pragma synchronous={synchronous}")
            self.db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise DockyardError(f"{path}: cannot open the log spool: {exc}",
                                hint="is another forwarder using this state folder?") from exc
        self.path = path
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.sinks = list(sinks)
        row = self.db.execute("select count(*), coalesce(sum(bytes), 0), coalesce(sum(lines), 0), "
                              "coalesce(min(id), 1) from spool").fetchone()
        self.batches, self.bytes, self.lines, first = row
        self.acks: dict[str, int] = dict(self.db.execute("select sink, id from acks").fetchall())
        for sink in self.sinks:
            if sink not in self.acks:  # a new sink starts with what is spooled now
                self.acks[sink] = first - 1
                self.db.execute("insert into acks(sink, id) values (?, ?)", (sink, first - 1))
        self.changed = threading.Condition()

    # ---------------------------------------------------------------- reader side

    @property
    def full(self) -> bool:
        return self.bytes >= self.max_bytes

    def append(self, items: list[Append]) -> int:
        """Spool the lines and move the positions past them, in one transaction; lines spooled."""
        now = time.time()
        rows = []
        for item in items:
            if item.batch is not None and item.batch.lines:
                body = item.batch.encode()
                rows.append((item.cid, len(item.batch.lines), len(body), body))
        with self.lock:
            self.db.execute("begin immediate")
            try:
                self.db.executemany("insert into spool(cid, lines, bytes, body) values (?, ?, ?, ?)", rows)
                self.db.executemany(
                    UPSERT_POSITION, [(i.cid, i.position.file, i.position.offset, now) for i in items if i.position])
                self.db.execute("commit")
            except BaseException:
                self.db.execute("rollback")
                raise
            self.batches += len(rows)
            self.bytes += sum(r[2] for r in rows)
            self.lines += sum(r[1] for r in rows)
        if rows:
            with self.changed:
                self.changed.notify_all()
        return sum(r[1] for r in rows)

    def positions(self) -> dict[str, Position]:
        with self.lock:
            rows = self.db.execute("select cid, file, offset from positions").fetchall()
        return {cid: Position(file, offset) for cid, file, offset in rows}

    def forget(self, cid: str) -> None:
        with self.lock:
            self.db.execute("delete from positions where cid = ?", (cid,))

    def record_loss(self, loss: Loss) -> None:
        with self.lock:
            self.db.execute("insert into losses(at, cid, what, bytes) values (?, ?, ?, ?)",
                            (time.time(), loss.cid, loss.what, loss.bytes))

    def put_positions(self, rows: list[tuple[str, str, int, float]]) -> None:
        """Read positions (cid, file, offset, updated) handed over by the store (logs/direct.py)."""
        with self.lock:
            self.db.executemany(UPSERT_POSITION, rows)

    def clear_positions(self) -> None:
        """The positions moved to the store (logs/direct.py): the spool keeps none."""
        with self.lock:
            self.db.execute("delete from positions")

    # ---------------------------------------------------------------- shipper side

    def next(self, sink: str, max_lines: int = 20000, max_batches: int = 200) -> list[Batch]:
        """The oldest batches this sink has not acknowledged, about max_lines lines in all."""
        with self.lock:
            after = self.acks[sink]
            cursor = self.db.execute("select id, lines, body from spool where id > ? order by id limit ?",
                                     (after, max_batches))
            out, total = [], 0
            for batch_id, lines, body in cursor:
                out.append(Batch.decode(batch_id, body))
                total += lines
                if total >= max_lines:
                    break
            cursor.close()
        return out

    def wait(self, timeout: float) -> None:
        with self.changed:
            self.changed.wait(timeout)

    def ack(self, sink: str, last_id: int) -> None:
        with self.lock:
            self.acks[sink] = last_id
            self.db.execute("begin immediate")
            try:
                self.db.execute("update acks set id = ? where sink = ?", (last_id, sink))
                done = min(self.acks[s] for s in self.sinks)
                row = self.db.execute("select count(*), coalesce(sum(bytes), 0), coalesce(sum(lines), 0) "
                                      "from spool where id <= ?", (done,)).fetchone()
                self.db.execute("delete from spool where id <= ?", (done,))
                self.db.execute("commit")
            except BaseException:
                self.db.execute("rollback")
                raise
            self.batches -= row[0]
            self.bytes -= row[1]
            self.lines -= row[2]

    def record_reject(self, sink: str, cid: str, lines: int, reason: str) -> None:
        with self.lock:
            self.db.execute("insert into rejects(at, sink, cid, lines, reason) values (?, ?, ?, ?, ?)",
                            (time.time(), sink, cid, lines, reason[:500]))

    # ---------------------------------------------------------------- reports

    def stats(self) -> SpoolStats:
        return SpoolStats(self.batches, self.bytes, self.lines, dict(self.acks))

    def losses(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute("select at, cid, what, bytes from losses order by id desc limit ?",
                                   (limit,)).fetchall()
        return [{"at": at, "container_id": cid, "what": what, "bytes": b} for at, cid, what, b in rows]

    def rejects(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute("select at, sink, cid, lines, reason from rejects order by id desc limit ?",
                                   (limit,)).fetchall()
        return [{"at": at, "sink": s, "container_id": c, "lines": n, "reason": r} for at, s, c, n, r in rows]

    def close(self) -> None:
        with self.lock:
            self.db.close()


# ---------------------------------------------------------------- read-only, for `dockyard forwarder status`

def open_readonly(path: Path) -> sqlite3.Connection | None:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) if path.exists() else None


def positions_and_losses(db: sqlite3.Connection) -> tuple[int, list[dict[str, Any]]]:
    """How many read positions, and the loss record, of a spool or (direct mode) a store."""
    try:
        positions = db.execute("select count(*) from positions").fetchone()[0]
        losses = [{"at": a, "container_id": c, "what": w, "bytes": b}
                  for a, c, w, b in db.execute("select at, cid, what, bytes from losses order by id")]
    except sqlite3.OperationalError:  # a store written before direct mode existed
        return 0, []
    return positions, losses


def read_status(path: Path) -> dict[str, Any] | None:
    """What the spool at `path` holds, its acks, positions, losses and rejects; None without one."""
    db = open_readonly(path)
    if db is None:
        return None
    try:
        batches, size, lines = db.execute("select count(*), coalesce(sum(bytes), 0), "
                                          "coalesce(sum(lines), 0) from spool").fetchone()
        positions, losses = positions_and_losses(db)
        return {"spool": {"batches": batches, "bytes": size, "lines": lines},
                "acks": dict(db.execute("select sink, id from acks").fetchall()),
                "positions": positions, "losses": losses,
                "rejects": [{"at": a, "sink": s, "container_id": c, "lines": n, "reason": r}
                            for a, s, c, n, r in db.execute("select at, sink, cid, lines, reason from rejects "
                                                            "order by id")]}
    finally:
        db.close()

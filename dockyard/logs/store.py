"""The embedded log store: SQLite with a full-text index, the default sink and what `logs` reads.

lines(id, c, ts, stream, msg) + a full-text index by BLOCKS of up to 256 consecutive lines: one
FTS5 document per block (contentless, detail=none, columnsize=0), its rowid the block's first line
id, fts_blocks(first, last) its line range. The index only pre-selects candidate lines (a search
checks the exact text of each line afterwards), and indexing a block instead of every line makes
it about 3x cheaper to write: the index is most of the cost of storing a line. containers(...)
holds each container's tags once, and outlives the container. marks(c, file, off) is the highest
line identity stored per (container, file): a batch replayed after a crash is cut to what is
newer, in the same transaction, so no line is stored twice. positions(...) and losses(...) are
the forwarder's read positions when the store is its only sink (direct mode): committed with the
lines they cover, in one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

from dockyard import settings
from dockyard.errors import DockyardError
from dockyard.logs.jsonfile import Line
from dockyard.logs.spool import UPSERT_POSITION, Batch, open_readonly, positions_and_losses
from dockyard.logs.tailer import Loss, Position

SCHEMA = """
create table if not exists containers(id integer primary key, cid text not null unique, name text,
    host text, app text, env text, service text, release text, image text);
create table if not exists lines(id integer primary key, c integer not null, ts integer not null,
    stream integer not null, msg text not null);
create index if not exists lines_ts on lines(ts);
create table if not exists marks(c integer not null, file text not null, off integer not null,
    primary key(c, file)) without rowid;
create virtual table if not exists lines_fts using fts5(msg, content='', detail=none, columnsize=0);
create table if not exists fts_blocks(first integer primary key, last integer not null);
create table if not exists positions(cid text primary key, file text not null, offset integer not null,
    updated real not null);
create table if not exists losses(id integer primary key, at real not null, cid text not null,
    what text not null, bytes integer);
"""

BLOCK = 256  # lines per full-text document
_MESSAGE = itemgetter(3)  # of a line (offset, ts, stream, msg)
_ROW = itemgetter(1, 2, 3)  # what a line stores: ts, stream, msg
ROWS = 128  # rows per INSERT statement
INDEX_BLOCK = "insert into lines_fts(rowid, msg) values (?, ?)"  # (first line id, the block's lines joined by "\n")

# Blocks of lines longer than this on average are indexed as their distinct words (block_text).
WORDS_ONCE_FROM = 128


def block_text(msgs: list[str]) -> str:
    """A block's full-text document. The index keeps, per block, only which words it holds (detail=none,
    no sizes): a word's second occurrence adds nothing to it, yet costs as much to tokenize. Blocks of
    long lines (log templates, repeated JSON keys) are cut to each distinct whitespace-separated word
    once. The tokenizer never joins characters across whitespace, so the block's set of indexed
    words, and every search, stay the same; short lines are not worth the split."""
    text = "\n".join(msgs)
    if len(text) < WORDS_ONCE_FROM * len(msgs):
        return text
    return " ".join(dict.fromkeys(text.split()))


# A store written before block indexing: its per-line index is rebuilt by blocks, once.
REBUILD_INDEX = f"""
drop table lines_fts;
create virtual table lines_fts using fts5(msg, content='', detail=none, columnsize=0);
create table fts_blocks(first integer primary key, last integer not null);
insert into fts_blocks(first, last) select min(id), max(id) from lines group by id / {BLOCK};
insert into lines_fts(rowid, msg) select min(id), group_concat(msg, char(10)) from lines group by id / {BLOCK};
"""

# Writing 100,000s of lines a second: 16 KiB pages (a new store's; an existing one keeps its own)
# hold 4x the rows of 4 KiB ones, so a line costs fewer page splits, WAL frames and checkpoint
# copies (about -25% on small lines, -45% on 1 KiB lines); a bigger page cache keeps the ts index
# and the FTS segments being merged in memory; checkpoints every ~16 MiB of WAL, not 4 MiB.
WRITE_PRAGMAS = ("pragma page_size=16384", "pragma journal_mode=wal", "pragma wal_autocheckpoint=1024")  # 16 KiB pages
CACHE_KIB = 32768  # the writer's page cache; the host agent keeps a smaller one (its memory, issue 30)

# column -> tag key
TAG_COLUMNS = {"name": "container", "host": "host", "app": "app", "env": "env", "service": "service",
               "release": "release", "image": "image"}


# The forwarder checkpoints the WAL in a thread of its own (Checkpointer); the writer checkpoints
# itself only past this many pages (~128 MiB), should that thread fall behind.
SAFETY_NET_PAGES = 8192  # of 16 KiB


class StoreBusy(Exception):
    """The store is locked or unavailable right now: try again later."""


class LogStore:
    def __init__(self, path: Path, busy_timeout: float = 5.0, readonly: bool = False,
                 synchronous: str = "NORMAL", cache_kib: int = CACHE_KIB, background_checkpoints: bool = False
                 ) -> None:
        self.path = path
        self.checkpointer: Checkpointer | None = None
        try:
            if readonly:
                if not path.exists():
                    raise DockyardError(f"no log store at {path}",
                                        hint="start this host's agent, which keeps it: dockyard agent (or only its "
                                             "forwarder: dockyard forwarder run); `dockyard logs ENV` in an app's "
                                             "folder reads the engine's logs meanwhile")
                self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                          check_same_thread=False, timeout=busy_timeout)
            else:
                settings.private_dir(path.parent)
                settings.private_file(path)
                self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                          timeout=busy_timeout)
                for pragma in WRITE_PRAGMAS:
                    self.db.execute(pragma)
                self.db.execute(f"pragma cache_size=-{int(cache_kib)}")
                self.db.execute(f"pragma synchronous={synchronous}")  # FULL: positions survive a power loss
                if self.db.execute("select 1 from sqlite_master where name = 'lines_fts' and sql like "
                                   "'%content=''lines''%'").fetchone():
                    self.db.executescript(f"begin immediate; {REBUILD_INDEX} commit;")
                self.db.executescript(SCHEMA)
                if background_checkpoints:  # the forwarder: commits do not wait on checkpoints
                    self.db.execute(f"pragma wal_autocheckpoint={SAFETY_NET_PAGES}")
                    self.checkpointer = Checkpointer(path, synchronous)
        except sqlite3.OperationalError as exc:
            raise DockyardError(f"{path}: cannot open the log store: {exc}") from exc
        self.lock = threading.Lock()
        self._containers: dict[str, tuple[int, tuple[Any, ...]]] = {}
        self._marks: dict[tuple[int, str], int] = {}

    # ---------------------------------------------------------------- writing

    def write(self, batches: Sequence[Batch], positions: Sequence[tuple[str, str, int]] = ()) -> int:
        """Store the batches, and the read positions (cid, file, offset) that follow them, in one
        transaction; return how many lines were new."""
        with self.lock:
            try:
                return self._write(batches, positions)
            except sqlite3.OperationalError as exc:
                if self.db.in_transaction:
                    self.db.execute("rollback")
                self._containers.clear()  # rows made in the rolled-back transaction are gone
                raise StoreBusy(str(exc)) from exc

    def _write(self, batches: Sequence[Batch], positions: Sequence[tuple[str, str, int]]) -> int:
        db = self.db
        db.execute("begin immediate")
        first = db.execute("select coalesce(max(id), 0) from lines").fetchone()[0]
        stored = 0
        msgs: list[str] = []  # the text of the new lines, in id order: the full-text blocks are made of it
        marks: dict[tuple[int, str], int] = {}
        for batch in batches:
            if not batch.lines:
                continue
            c = self._container(batch.cid, batch.tags)
            key = (c, batch.file)
            high = marks.get(key)
            if high is None:
                high = self._mark(key)
            lines = batch.lines
            if lines[0][0] <= high:
                lines = [line for line in lines if line[0] > high]
                if not lines:
                    continue
            self._insert(c, lines)
            stored += len(lines)
            msgs += map(_MESSAGE, lines)
            marks[key] = lines[-1][0]
        if stored:  # the new lines have the ids first+1 .. first+stored (rowid = max + 1)
            starts = range(0, stored, BLOCK)
            db.executemany("insert into fts_blocks(first, last) values (?, ?)",
                           [(first + 1 + i, first + min(i + BLOCK, stored)) for i in starts])
            db.executemany(INDEX_BLOCK, [(first + 1 + i, block_text(msgs[i:i + BLOCK])) for i in starts])
        db.executemany("insert into marks(c, file, off) values (?, ?, ?) on conflict(c, file) "
                       "do update set off = excluded.off", [(c, f, o) for (c, f), o in marks.items()])
        if positions:
            now = time.time()
            db.executemany(UPSERT_POSITION, [(cid, file, offset, now) for cid, file, offset in positions])
        db.execute("commit")
        self._marks.update(marks)
        if self.checkpointer is not None:
            self.checkpointer.poke()
        return stored

    def _insert(self, c: int, lines: Sequence[Line]) -> None:
        """INSERT the lines of one container: ROWS rows per statement (one statement step and one
        binding call for ROWS lines, about -25% of a line's cost), the rest one by one. c, the
        container's row, is an integer literal: one cached statement per container."""
        full = len(lines) - len(lines) % ROWS
        if full:
            flat = list(chain.from_iterable(map(_ROW, lines[:full])))  # ts, stream, msg of each line
            values = ", ".join([f"({c:d}, ?, ?, ?)"] * ROWS)
            self.db.executemany(f"insert into lines(c, ts, stream, msg) values {values}",
                                [flat[i:i + 3 * ROWS] for i in range(0, len(flat), 3 * ROWS)])
        if full < len(lines):
            # The line tuples (offset, ts, stream, msg) are bound as they are (no per-line copy):
            # ?1, the offset, is not used.
            self.db.executemany(f"insert into lines(c, ts, stream, msg) values ({c:d}, ?2, ?3, ?4)", lines[full:])

    def _mark(self, key: tuple[int, str]) -> int:
        if key not in self._marks:
            row = self.db.execute("select off from marks where c = ? and file = ?", key).fetchone()
            self._marks[key] = row[0] if row else -1
        return self._marks[key]

    def _container(self, cid: str, tags: dict[str, Any]) -> int:
        values = tuple(tags.get(key, "") for key in TAG_COLUMNS.values())
        known = self._containers.get(cid)
        if known and known[1] == values:
            return known[0]
        self.db.execute(
            f"insert into containers(cid, {', '.join(TAG_COLUMNS)}) values (?, {', '.join('?' * len(TAG_COLUMNS))}) "
            f"on conflict(cid) do update set {', '.join(f'{c}=excluded.{c}' for c in TAG_COLUMNS)}",
            (cid, *values))
        c = self.db.execute("select id from containers where cid = ?", (cid,)).fetchone()[0]
        self._containers[cid] = (c, values)
        return int(c)

    # ---------------------------------------------------------------- reading

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of a SELECT that logs/query.py built (pure, tested by the equality of its text)."""
        with self.lock:
            return self.db.execute(sql, params).fetchall()

    def last_id(self) -> int:
        with self.lock:
            return int(self.db.execute("select coalesce(max(id), 0) from lines").fetchone()[0])

    # ---------------------------------------------------------------- the reader's journal (direct mode)

    def positions(self) -> dict[str, Position]:
        with self.lock:
            rows = self.db.execute("select cid, file, offset from positions").fetchall()
        return {cid: Position(file, offset) for cid, file, offset in rows}

    def position_rows(self) -> list[tuple[str, str, int, float]]:
        """(cid, file, offset, updated) of every read position, to hand them to a spool."""
        with self.lock:
            return self.db.execute("select cid, file, offset, updated from positions").fetchall()

    def forget(self, cid: str) -> None:
        with self.lock:
            self.db.execute("delete from positions where cid = ?", (cid,))

    def clear_positions(self) -> None:
        with self.lock:
            self.db.execute("delete from positions")

    def record_loss(self, loss: Loss) -> None:
        with self.lock:
            self.db.execute("insert into losses(at, cid, what, bytes) values (?, ?, ?, ?)",
                            (time.time(), loss.cid, loss.what, loss.bytes))

    def close(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.close()
        with self.lock:
            self.db.close()


class Checkpointer:
    """Checkpoints of the log store's write-ahead log, in a thread of their own.

    SQLite in WAL mode appends each commit to `store.db-wal`; a checkpoint copies those pages into
    `store.db` and syncs both files. Left to SQLite (wal_autocheckpoint), it runs inside the commit
    that crosses the threshold, so the forwarder's reading waits on the copy and the fsyncs. Here a
    thread with a connection of its own checkpoints after each commit instead (PASSIVE: never waits on
    the writer or a reader), while the reader goes on reading and parsing: the wait overlaps work.
    The writer keeps a large wal_autocheckpoint as a safety net, should this thread fall behind.
    Durability does not change: the same pages are synced, only by another thread.
    """

    def __init__(self, path: Path, synchronous: str = "NORMAL", interval: float = 1.0) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=0)
        self.db.execute(f"pragma synchronous={synchronous}")
        self.interval = interval
        self.checkpoints = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-store-checkpoint", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """A commit happened: checkpoint what the WAL holds."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.db.execute("pragma wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
            except sqlite3.Error:
                pass  # locked or busy: the next commit pokes again

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(30)
        self.db.close()


def read_journal(path: Path) -> tuple[int, list[dict[str, Any]]] | None:
    """How many read positions the store at `path` keeps, and its loss record; None without one."""
    db = open_readonly(path)
    if db is None:
        return None
    try:
        return positions_and_losses(db)
    finally:
        db.close()

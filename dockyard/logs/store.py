"""The embedded log store: SQLite, the default sink and what `logs` reads.

Lines are stored by BLOCKS of consecutive lines of one container (blocks.py): one row per block,
blocks(id, last, c, ts_min, ts_max, enc, streams, times, msgs), its id the block's first line id
and `last` its last (a line's id is the block's id plus its place in it). A line costs a share of
one row instead of a row, an entry in a time index and an entry in the full-text index of its own:
the coarse indexes are the blocks' time range (blocks_ts) and their container. Readers (query.py)
pick blocks by container, time range and the full-text index, then decode them and filter their
lines exactly.

The full-text index (blocks_fts: FTS5, one document per block, contentless, detail=none) only
pre-selects blocks: a search checks the exact text of each line afterwards. Tokenizing is most of
the cost of storing a line, so the forwarder builds the index LAZILY (lazy_index=True): blocks
are indexed in id order, up to `indexed.upto`, when the reader has caught up with the files, and
while it has not, whenever the unindexed text passes INDEX_LAG; a search reads the blocks past
`upto` directly (their text, in C, then each line). Any other writer indexes what it writes.

containers(...) holds each container's tags once, and outlives the container. marks(c, file, off)
is the highest line identity stored per (container, file): a batch replayed after a crash is cut
to what is newer, in the same transaction, so no line is stored twice. positions(...) and
losses(...) are the forwarder's read positions when the store is its only sink (direct mode):
committed with the lines they cover, in one transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from dockyard import settings
from dockyard.errors import DockyardError
from dockyard.logs.blocks import BLOCK_LINES, WORDS_ONCE_FROM, Block, blocks, stored_index_text
from dockyard.logs.lines import Lines, as_lines
from dockyard.logs.spool import UPSERT_POSITION, Batch, open_readonly, positions_and_losses
from dockyard.logs.tailer import Loss, Position

SCHEMA = """
create table if not exists containers(id integer primary key, cid text not null unique, name text,
    host text, app text, env text, service text, release text, image text);
create table if not exists blocks(id integer primary key, last integer not null, c integer not null,
    ts_min integer not null, ts_max integer not null, enc integer not null, streams blob, times blob not null,
    msgs text not null);
create index if not exists blocks_ts on blocks(ts_max);
-- blocks is not a table of lines any more. This view of the messages keeps ad-hoc SQL and tools
-- that read `lines` as before working (slowly: it decodes each block's JSON).
create table if not exists marks(c integer not null, file text not null, off integer not null,
    primary key(c, file)) without rowid;
create virtual table if not exists blocks_fts using fts5(msg, content='', detail=none, columnsize=0);
create table if not exists indexed(id integer primary key check (id = 0), upto integer not null);
insert or ignore into indexed(id, upto) values (0, 0);
create table if not exists positions(cid text primary key, file text not null, offset integer not null,
    updated real not null);
create table if not exists losses(id integer primary key, at real not null, cid text not null,
    what text not null, bytes integer);
"""

LINES_VIEW = ("create view if not exists lines(id, c, msg) as "
              "select b.id + m.key, b.c, m.value from blocks b, json_each(b.msgs) m")
INSERT_BLOCK = ("insert into blocks(id, last, c, ts_min, ts_max, enc, streams, times, msgs) "
                "values (?, ?, ?, ?, ?, ?, ?, ?, ?)")
INDEX_BLOCK = "insert into blocks_fts(rowid, msg) values (?, ?)"  # (block id, its words: index_text)
# A lazily indexed store keeps at most about this much text (characters) out of the index: a search
# reads that much directly at most (~30 ms).
INDEX_LAG = 64 << 20

# A lazily indexed store keeps the full-text documents of blocks of long lines from their writing to
# their indexing, up to about this many characters per KiB of its page cache (the memory knob the
# agent turns down): the index is built from them, without reading the blocks' text back (a block
# of 1 KiB lines: 128 KiB of text, a few KiB of distinct words). The forwarder's 32 MiB cache: 8 Mi.
DOCS_PER_CACHE_KIB = 256

# Writing 100,000s of lines a second: 16 KiB pages (a new store's; an existing one keeps its own)
# hold 4x the rows of 4 KiB ones, so a line costs fewer page splits, WAL frames and checkpoint
# copies; a bigger page cache keeps the FTS segments being merged in memory; checkpoints every
# ~16 MiB of WAL, not 4 MiB.
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
                 synchronous: str = "NORMAL", cache_kib: int = CACHE_KIB, background_checkpoints: bool = False,
                 lazy_index: bool = False) -> None:
        self.path = path
        self.checkpointer: Checkpointer | None = None
        self.lazy_index = lazy_index
        self.unindexed = 0  # characters of text written and not indexed yet (lazy_index)
        self._docs: dict[int, tuple[str, int]] = {}  # block id -> (its index document, its characters)
        self._docs_size = 0
        self.docs_kept = DOCS_PER_CACHE_KIB * int(cache_kib) if lazy_index else 0  # characters of documents, at most
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
                # Only a new (or older) store is written to here: a forwarder restarted while another
                # process holds the store's write lock opens it and waits for the lock with its lines.
                kinds = dict(self.db.execute("select name, type from sqlite_master").fetchall())
                if not {"containers", "blocks", "indexed", "marks", "positions", "losses"} <= kinds.keys():
                    self.db.executescript(SCHEMA)
                if kinds.get("lines") == "table":
                    self._convert_lines()
                if kinds.get("lines") != "view":
                    self.db.execute(LINES_VIEW)
                if lazy_index:
                    self.unindexed = int(self.db.execute(
                        "select coalesce(sum(length(msgs)), 0) from blocks where id > (select upto from indexed)"
                    ).fetchone()[0])
                else:
                    self._index_now()
                if background_checkpoints:  # the forwarder: commits do not wait on checkpoints
                    self.db.execute(f"pragma wal_autocheckpoint={SAFETY_NET_PAGES}")
                    self.checkpointer = Checkpointer(path, synchronous)
        except sqlite3.OperationalError as exc:
            raise DockyardError(f"{path}: cannot open the log store: {exc}") from exc
        self.lock = threading.Lock()
        self._containers: dict[str, tuple[int, tuple[Any, ...]]] = {}
        self._marks: dict[tuple[int, str], int] = {}

    def _convert_lines(self) -> None:
        """A store written a line per row (lines, lines_fts, fts_blocks): its lines become blocks (runs
        of consecutive ids of one container keep their ids), in one transaction, indexed."""
        db = self.db
        db.execute("begin immediate")
        run: list[tuple[int, int, int, int, str]] = []
        rows: list[tuple[Any, ...]] = []

        def close_run() -> None:
            if run:
                lines = Lines([r[0] for r in run], [r[2] for r in run], [r[3] for r in run], [r[4] for r in run])
                first = run[0][0]
                for block in blocks(lines):
                    rows.append(_row(first, run[0][1], block))
                    first += block.lines
                run.clear()

        for row in db.execute("select id, c, ts, stream, msg from lines order by id"):
            if run and (row[1] != run[-1][1] or row[0] != run[-1][0] + 1 or len(run) >= BLOCK_LINES):
                close_run()
            run.append(row)
            if len(rows) >= 256:
                db.executemany(INSERT_BLOCK, rows)
                rows.clear()
        close_run()
        db.executemany(INSERT_BLOCK, rows)
        for table in ("lines", "lines_fts", "fts_blocks"):  # (executescript would commit first)
            db.execute(f"drop table if exists {table}")
        db.execute("update indexed set upto = 0")
        self._index_pending(None)
        db.execute("commit")

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
        first = next_id = self._last_id() + 1
        rows: list[tuple[Any, ...]] = []
        marks: dict[tuple[int, str], int] = {}
        docs: list[tuple[int, tuple[str, int]]] = []
        text = 0
        for batch in batches:
            if not batch.lines:
                continue
            c = self._container(batch.cid, batch.tags)
            key = (c, batch.file)
            high = marks.get(key)
            if high is None:
                high = self._mark(key)
            lines = as_lines(batch.lines)
            if lines.offsets[0] <= high:
                lines = lines.after(high)
                if not lines:
                    continue
            for block in blocks(lines):
                rows.append(_row(next_id, c, block))
                if self._docs_size < self.docs_kept and block.chars >= WORDS_ONCE_FROM * block.lines:
                    # long lines: the block's document now, while its text is at hand
                    docs.append((next_id, (stored_index_text(block.msgs, block.lines), block.chars)))
                next_id += block.lines
                text += block.chars
            marks[key] = lines.offsets[-1]
        if rows:
            db.executemany(INSERT_BLOCK, rows)
            if self.lazy_index:
                self.unindexed += text
            else:
                self._index_pending(None)
        db.executemany("insert into marks(c, file, off) values (?, ?, ?) on conflict(c, file) "
                       "do update set off = excluded.off", [(c, f, o) for (c, f), o in marks.items()])
        if positions:
            now = time.time()
            db.executemany(UPSERT_POSITION, [(cid, file, offset, now) for cid, file, offset in positions])
        db.execute("commit")
        self._marks.update(marks)
        if docs:  # only once committed: a rolled-back write's ids are given again
            self._keep_docs(docs)
        if self.checkpointer is not None:
            self.checkpointer.poke()
        return next_id - first

    def _last_id(self) -> int:
        row = self.db.execute("select last from blocks order by id desc limit 1").fetchone()
        return int(row[0]) if row else 0

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

    # ---------------------------------------------------------------- the full-text index

    def index(self, budget: int | None = None) -> int:
        """Index blocks not indexed yet, oldest first, about `budget` characters of text (None: all),
        in a transaction of its own; the characters indexed (0: the index is complete)."""
        with self.lock:
            try:
                self.db.execute("begin immediate")
                done = self._index_pending(budget)
                self.db.execute("commit")
            except sqlite3.OperationalError as exc:
                if self.db.in_transaction:
                    self.db.execute("rollback")
                raise StoreBusy(str(exc)) from exc
        self.unindexed = max(0, self.unindexed - done) if done else 0
        return done

    def _index_now(self) -> None:
        if self.db.execute("select 1 from blocks where id > (select upto from indexed) limit 1").fetchone():
            self.db.execute("begin immediate")
            self._index_pending(None)
            self.db.execute("commit")

    def _index_pending(self, budget: int | None) -> int:
        done = 0
        upto = None
        docs = []
        # The messages as their UTF-8 bytes (no str made of a block's text, blocks.stored_index_text), in
        # the scan when no document is kept, else only for a block whose document is not.
        kept_any = bool(self._docs)
        for block_id, lines, text in self.db.execute(
                f"select id, last - id + 1, {'null' if kept_any else 'cast(msgs as blob)'} from blocks "
                "where id > (select upto from indexed) order by id"):
            if upto is None and kept_any and self._docs_size >= self.docs_kept:
                self._forget_docs(block_id)  # of blocks another writer indexed
            kept = self._docs.pop(block_id, None) if kept_any else None
            if kept is not None:  # its document, made when it was written
                doc, chars = kept
                self._docs_size -= len(doc)
            else:
                if text is None:
                    text = self.db.execute("select cast(msgs as blob) from blocks where id = ?",
                                           (block_id,)).fetchone()[0]
                doc = stored_index_text(text, lines)
                # characters, as `unindexed` counts (SQLite's length() would read the text again)
                chars = len(text) if text.isascii() else len(text.decode())
            docs.append((block_id, doc))
            done += chars
            upto = block_id
            if budget is not None and done >= budget:
                break
        if upto is not None:
            self.db.executemany(INDEX_BLOCK, docs)
            self.db.execute("update indexed set upto = ?", (upto,))
        return done

    def _keep_docs(self, docs: list[tuple[int, tuple[str, int]]]) -> None:
        self._docs.update(docs)
        self._docs_size += sum(len(doc) for _, (doc, _) in docs)

    def _forget_docs(self, below: int) -> None:
        for block_id in [i for i in self._docs if i < below]:
            self._docs_size -= len(self._docs.pop(block_id)[0])

    # ---------------------------------------------------------------- reading

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of a SELECT that logs/query.py built (pure, tested by the equality of its text)."""
        with self.lock:
            return self._execute(sql, params).fetchall()

    def select(self, sql: str, params: Sequence[Any] = (), batch: int = 8) -> Iterator[tuple[Any, ...]]:
        """The rows of a SELECT, fetched `batch` at a time: a reader that stops early reads no further."""
        with self.lock:
            cursor = self._execute(sql, params)
        while True:
            with self.lock:
                rows = cursor.fetchmany(batch)
            yield from rows
            if len(rows) < batch:
                return

    def _execute(self, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
        try:
            return self.db.execute(sql, params)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                raise DockyardError(f"{self.path}: a log store in an older form",
                                    hint="restart this host's agent (or its forwarder): it converts the store "
                                         "when it opens it") from exc
            raise

    def last_id(self) -> int:
        with self.lock:
            return self._last_id()

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


def _row(first: int, c: int, block: Block) -> tuple[Any, ...]:
    # msgs as text (a str: bound as bytes, `cast(? as text)` held ~9 MB more memory in SQLite at peak)
    return (first, first + block.lines - 1, c, block.ts_min, block.ts_max, block.enc, block.streams, block.times,
            block.msgs.decode())


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

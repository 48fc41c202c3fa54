"""The embedded log store: SQLite with a full-text index, the default sink and what `logs` reads.

lines(id, c, ts, stream, msg) + an external-content FTS5 index on msg (detail=none: small and
fast to write; a search checks the exact text afterwards). containers(...) holds each
container's tags once, and outlives the container. marks(c, file, off) is the highest line
identity stored per (container, file): a batch replayed after a crash is cut to what is newer,
in the same transaction, so no line is stored twice.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dockyard.errors import DockyardError
from dockyard.logs.spool import Batch

SCHEMA = """
create table if not exists containers(id integer primary key, cid text not null unique, name text,
    host text, app text, env text, service text, release text, image text);
create table if not exists lines(id integer primary key, c integer not null, ts integer not null,
    stream integer not null, msg text not null);
create index if not exists lines_ts on lines(ts);
create table if not exists marks(c integer not null, file text not null, off integer not null,
    primary key(c, file)) without rowid;
create virtual table if not exists lines_fts using fts5(msg, content='lines', content_rowid='id',
    detail=none);
"""

# column -> tag key
TAG_COLUMNS = {"name": "container", "host": "host", "app": "app", "env": "env", "service": "service",
               "release": "release", "image": "image"}


class StoreBusy(Exception):
    """The store is locked or unavailable right now: try again later."""


class LogStore:
    def __init__(self, path: Path, busy_timeout: float = 5.0, readonly: bool = False) -> None:
        self.path = path
        try:
            if readonly:
                if not path.exists():
                    raise DockyardError(f"no log store at {path}",
                                        hint="start the forwarder: dockyard forwarder run")
                self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                          check_same_thread=False, timeout=busy_timeout)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                          timeout=busy_timeout)
                self.db.execute("pragma journal_mode=wal")
                self.db.execute("pragma synchronous=normal")
                self.db.executescript(SCHEMA)
        except sqlite3.OperationalError as exc:
            raise DockyardError(f"{path}: cannot open the log store: {exc}") from None
        self.lock = threading.Lock()
        self._containers: dict[str, tuple[int, tuple[Any, ...]]] = {}
        self._marks: dict[tuple[int, str], int] = {}

    # ---------------------------------------------------------------- writing

    def write(self, batches: Sequence[Batch]) -> int:
        """Store the batches in one transaction; return how many lines were new."""
        with self.lock:
            try:
                return self._write(batches)
            except sqlite3.OperationalError as exc:
                if self.db.in_transaction:
                    self.db.execute("rollback")
                self._containers.clear()  # rows made in the rolled-back transaction are gone
                raise StoreBusy(str(exc)) from None

    def _write(self, batches: Sequence[Batch]) -> int:
        db = self.db
        db.execute("begin immediate")
        rows: list[tuple[int, int, int, str]] = []
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
            rows.extend([(c, ts, stream, msg) for _, ts, stream, msg in lines])
            marks[key] = lines[-1][0]
        first = db.execute("select coalesce(max(id), 0) from lines").fetchone()[0]
        db.executemany("insert into lines(c, ts, stream, msg) values (?, ?, ?, ?)", rows)
        db.execute("insert into lines_fts(rowid, msg) select id, msg from lines where id > ?", (first,))
        db.executemany("insert into marks(c, file, off) values (?, ?, ?) on conflict(c, file) "
                       "do update set off = excluded.off", [(c, f, o) for (c, f), o in marks.items()])
        db.execute("commit")
        self._marks.update(marks)
        return len(rows)

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

    def close(self) -> None:
        with self.lock:
            self.db.close()

"""The state database's connection: opened in WAL mode, its operational failures one clear error."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dockyard.errors import StoreUnavailable

LOCK_WAIT = 30.0  # seconds a write waits for another process's transaction before it gives up


class Guarded:
    """The state database's connection, whose operational failures (locked for longer than
    LOCK_WAIT, a full disk, an I/O error) are StoreUnavailable naming the file: one clear message
    at any door, never SQLite's traceback. Everything else is the connection's own."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn, self._path = conn, path
        self.ensured: set[str] = set()  # the packages whose tables are up to date (state/migrations.py)

    def _failed(self, exc: sqlite3.OperationalError) -> StoreUnavailable:
        hint = ("another process holds it (a backup? a stuck server?); try again when it is done"
                if "locked" in str(exc) else "check that the disk under DOCKYARD_HOME has room")
        return StoreUnavailable(f"state database {self._path}: {exc}", hint=hint)

    def execute(self, sql: str, parameters: Any = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            raise self._failed(exc) from exc

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        try:
            return self._conn.executemany(sql, rows)
        except sqlite3.OperationalError as exc:
            raise self._failed(exc) from exc

    def executescript(self, script: str) -> sqlite3.Cursor:
        try:
            return self._conn.executescript(script)
        except sqlite3.OperationalError as exc:
            raise self._failed(exc) from exc

    def __enter__(self) -> Guarded:
        self._conn.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> bool | None:
        try:
            return self._conn.__exit__(*exc_info)
        except sqlite3.OperationalError as exc:  # the COMMIT itself
            raise self._failed(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def open_guarded(path: Path, lock_wait: float = LOCK_WAIT) -> Guarded:
    """A connection to the database at `path`, in WAL mode, shared by the opener's threads."""
    # Shared by the deploy executor's threads (progress lines); SQLite serialises access itself.
    conn = Guarded(sqlite3.connect(path, timeout=lock_wait, isolation_level=None, check_same_thread=False), path)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def statements(script: str) -> Iterator[str]:
    """The statements of an SQL script, one by one (split where SQLite says one is complete)."""
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;"):
                yield pending
            pending = ""

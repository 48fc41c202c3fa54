"""SqliteStore: the embedded default ConfigStore, one SQLite file in WAL mode.

Every change is a row in `changes` (key, old and new value); `current` holds the live
values so reads do not replay history. A snapshot at revision R takes, per key, the
newest change with revision <= R.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from dockyard.config.store import (
    SHARED,
    Change,
    Planned,
    StoredValue,
    app_of,
    check_key,
    check_name,
    check_revision,
    check_scope,
    plan_delete,
    plan_set,
)
from dockyard.errors import StoreUnavailable
from dockyard.settings import private_dir, private_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS revisions (
    rev INTEGER PRIMARY KEY AUTOINCREMENT, author TEXT NOT NULL, ts REAL NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
    rev INTEGER NOT NULL REFERENCES revisions(rev), env TEXT NOT NULL, scope TEXT NOT NULL,
    key TEXT NOT NULL, old_value TEXT, old_secret INTEGER, new_value TEXT, new_secret INTEGER,
    PRIMARY KEY (env, scope, key, rev));
CREATE INDEX IF NOT EXISTS changes_by_rev ON changes (env, rev);
CREATE TABLE IF NOT EXISTS current (
    env TEXT NOT NULL, scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    secret INTEGER NOT NULL, PRIMARY KEY (env, scope, key));
"""


def _value(value: str | None, secret: int | None) -> StoredValue | None:
    return None if value is None else StoredValue(value, bool(secret))


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()  # one connection shared by the server's threads
        try:
            private_dir(self.path.parent)
            private_file(self.path)  # values and ciphertexts: 0600, like the -wal SQLite makes beside it
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so writers serialise
            self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise self._unavailable(exc) from exc

    def _unavailable(self, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(
            f"sqlite config store {self.path} cannot be used: {exc}",
            hint="check the file and its directory are readable and writable and their disk has room, "
            "or point DOCKYARD_CONFIG_STORE elsewhere",
        )

    @contextmanager
    def _tx(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise self._unavailable(exc) from exc

    def _current(self, db: sqlite3.Connection, env: str, scope: str) -> dict[str, StoredValue]:
        rows = db.execute("SELECT key, value, secret FROM current WHERE env=? AND scope=?", (env, scope))
        return {key: StoredValue(value, bool(secret)) for key, value, secret in rows}

    def _apply(self, db: sqlite3.Connection, env: str, scope: str, planned: Planned, author: str) -> int:
        cur = db.execute("INSERT INTO revisions (author, ts) VALUES (?, ?)", (author, time.time()))
        rev = int(cur.lastrowid or 0)
        for key, old, new in planned:
            db.execute(
                "INSERT INTO changes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rev,
                    env,
                    scope,
                    key,
                    old and old.value,
                    old and old.secret,
                    new and new.value,
                    new and new.secret,
                ),
            )
            if new is None:
                db.execute("DELETE FROM current WHERE env=? AND scope=? AND key=?", (env, scope, key))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO current VALUES (?, ?, ?, ?, ?)",
                    (env, scope, key, new.value, int(new.secret)),
                )
        return rev

    def set_many(self, env: str, app: str | None, items: Mapping[str, StoredValue], author: str) -> int:
        scope = check_scope(env, app)
        with self._tx(write=True) as db:
            planned = plan_set(self._current(db, env, scope), items, author)
            return self._apply(db, env, scope, planned, author)

    def delete_many(self, env: str, app: str | None, keys: Sequence[str], author: str) -> int:
        scope = check_scope(env, app)
        with self._tx(write=True) as db:
            planned = plan_delete(env, app, self._current(db, env, scope), keys, author)
            return self._apply(db, env, scope, planned, author)

    def get(self, env: str, app: str | None, key: str) -> StoredValue | None:
        scope = check_scope(env, app)
        check_key(key)
        with self._tx() as db:
            row = db.execute(
                "SELECT value, secret FROM current WHERE env=? AND scope=? AND key=?", (env, scope, key)
            ).fetchone()
        return _value(*row) if row else None

    def snapshot(self, env: str, app: str | None, revision: int | None = None) -> dict[str, StoredValue]:
        scope = check_scope(env, app)
        with self._tx() as db:
            rev = check_revision(revision, self._revision(db))
            rows = db.execute(
                "SELECT key, new_value, new_secret FROM changes c WHERE env=? AND scope=? AND rev = "
                "(SELECT max(rev) FROM changes WHERE env=c.env AND scope=c.scope AND key=c.key AND rev<=?)",
                (env, scope, rev),
            ).fetchall()
        return {key: StoredValue(value, bool(secret)) for key, value, secret in rows if value is not None}

    def history(
        self, env: str, apps: Sequence[str | None] | None = None, key: str | None = None
    ) -> list[Change]:
        check_name("environment", env)
        sql = (
            "SELECT c.rev, c.scope, c.key, c.old_value, c.old_secret, c.new_value, c.new_secret, r.author, "
            "r.ts FROM changes c JOIN revisions r ON r.rev = c.rev WHERE c.env=?"
        )
        args: list[object] = [env]
        if apps is not None:
            scopes = [check_scope(env, app) for app in apps]
            sql += f" AND c.scope IN ({','.join('?' * len(scopes))})"
            args += scopes
        if key is not None:
            sql += " AND c.key=?"
            args.append(check_key(key))
        with self._tx() as db:
            rows = db.execute(sql + " ORDER BY c.rev DESC, c.key", args).fetchall()
        return [
            Change(rev, env, app_of(scope), k, _value(ov, os_), _value(nv, ns), author, ts)
            for rev, scope, k, ov, os_, nv, ns, author, ts in rows
        ]

    def _revision(self, db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT coalesce(max(rev), 0) FROM revisions").fetchone()[0])

    def current_revision(self) -> int:
        with self._tx() as db:
            return self._revision(db)

    def environments(self) -> list[str]:
        with self._tx() as db:
            return [row[0] for row in db.execute("SELECT DISTINCT env FROM changes ORDER BY env")]

    def apps(self, env: str) -> list[str]:
        with self._tx() as db:
            rows = db.execute(
                "SELECT DISTINCT scope FROM changes WHERE env=? AND scope != ? ORDER BY scope", (env, SHARED)
            )
            return [row[0] for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

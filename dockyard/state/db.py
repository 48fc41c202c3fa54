"""Dockyard's own state: builds and releases, in SQLite under $DOCKYARD_HOME.

What is live is always read back from the engine's labels; this database keeps the
history the engine cannot: which digest a commit built to, and every release per env.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard import settings
from dockyard.errors import StoreUnavailable
from dockyard.vocabulary import absent, rfc3339

SCHEMA = [
    # version 1
    """
    CREATE TABLE builds (
        app TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        tag TEXT NOT NULL,
        image_id TEXT NOT NULL,
        branch TEXT,
        dirty INTEGER NOT NULL,
        built_at REAL NOT NULL,
        PRIMARY KEY (app, tag)
    );
    CREATE TABLE pushes (
        app TEXT NOT NULL,
        tag TEXT NOT NULL,
        registry TEXT NOT NULL,
        repository TEXT NOT NULL,
        digest TEXT NOT NULL,
        pushed_at REAL NOT NULL,
        PRIMARY KEY (app, tag, registry)
    );
    CREATE TABLE releases (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        app TEXT NOT NULL,
        env TEXT NOT NULL,
        release_id TEXT NOT NULL,
        image TEXT NOT NULL,
        commit_sha TEXT,
        config_revision INTEGER NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        author TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX releases_app_env ON releases (app, env, seq);
    """,
    # version 2: pipelines
    """
    CREATE TABLE apps (
        name TEXT PRIMARY KEY,
        repo TEXT NOT NULL,
        spec_file TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        branch TEXT NOT NULL,
        trigger TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL,
        error TEXT NOT NULL DEFAULT '',
        owner TEXT NOT NULL DEFAULT '',
        heartbeat REAL
    );
    CREATE INDEX runs_status ON runs (status, id);
    CREATE TABLE steps (
        run_id INTEGER NOT NULL REFERENCES runs (id),
        idx INTEGER NOT NULL,
        kind TEXT NOT NULL,
        env TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at REAL,
        ended_at REAL,
        output TEXT NOT NULL DEFAULT '',
        approved_by TEXT,
        approved_at REAL,
        PRIMARY KEY (run_id, idx)
    );
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    );
    CREATE TABLE polled (
        app TEXT NOT NULL,
        branch TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        PRIMARY KEY (app, branch)
    );
    """,
    # version 3: autoscaling (dockyard/scale/store.py)
    """
    CREATE TABLE scale_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app TEXT NOT NULL,
        env TEXT NOT NULL,
        service TEXT NOT NULL,
        at REAL NOT NULL,
        current INTEGER NOT NULL,
        desired INTEGER NOT NULL,
        recommendation INTEGER NOT NULL,
        action TEXT NOT NULL,
        reason TEXT NOT NULL,
        outcome TEXT NOT NULL DEFAULT '',
        inputs TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX scale_events_scope ON scale_events (app, env, service, at);
    CREATE TABLE scale_overrides (
        app TEXT NOT NULL,
        env TEXT NOT NULL,
        service TEXT NOT NULL,
        replicas INTEGER NOT NULL,
        set_at REAL NOT NULL,
        author TEXT NOT NULL,
        PRIMARY KEY (app, env, service)
    );
    CREATE TABLE scale_apps (
        app TEXT PRIMARY KEY,
        spec_file TEXT NOT NULL,
        added_at REAL NOT NULL
    );
    """,
    # version 4: scoped tokens, who started a run, the audit log, webhook deliveries (issue 12)
    """
    ALTER TABLE tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'admin';  -- tokens made before had every right
    ALTER TABLE tokens ADD COLUMN expires_at REAL;
    ALTER TABLE tokens ADD COLUMN last_used_at REAL;
    UPDATE tokens SET name = name || '-' || id WHERE id NOT IN (SELECT MIN(id) FROM tokens GROUP BY name);
    CREATE UNIQUE INDEX tokens_name ON tokens (name);
    ALTER TABLE runs ADD COLUMN started_by TEXT NOT NULL DEFAULT '';
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        source TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        prev TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_at ON audit (at);
    CREATE TABLE audit_head (one INTEGER PRIMARY KEY CHECK (one = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
    CREATE TABLE deliveries (
        provider TEXT NOT NULL,
        delivery TEXT NOT NULL,
        received_at REAL NOT NULL,
        PRIMARY KEY (provider, delivery)
    );
    """,
    # version 5: the apps whose scheduled backups the server takes (dockyard/backup/schedule.py)
    """
    CREATE TABLE backup_apps (
        app TEXT PRIMARY KEY,
        spec_file TEXT NOT NULL,
        added_at REAL NOT NULL
    );
    """,
    # version 6: the dashboard's log-in sessions (dockyard/server/sessions.py)
    """
    CREATE TABLE sessions (
        sha256 TEXT PRIMARY KEY,
        token_id INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX sessions_token ON sessions (token_id);
    """,
    # version 7: the notifications' outbox (dockyard/notify/outbox.py)
    """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        channel TEXT NOT NULL,
        event TEXT NOT NULL,
        app TEXT NOT NULL,
        env TEXT NOT NULL,
        text TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at REAL NOT NULL,
        next_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        delivered_at REAL,
        given_up_at REAL,
        last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX outbox_due ON outbox (delivered_at, given_up_at, next_at);
    """,
    # version 8: the pushes webhooks accepted, so the same push never runs twice (dockyard/server/deliveries.py)
    """
    CREATE TABLE webhook_pushes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app TEXT NOT NULL,
        branch TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        provider TEXT NOT NULL,
        delivery TEXT NOT NULL,
        received_at REAL NOT NULL
    );
    CREATE INDEX webhook_pushes_branch ON webhook_pushes (app, branch, id);
    CREATE INDEX webhook_pushes_at ON webhook_pushes (received_at);
    CREATE INDEX deliveries_at ON deliveries (received_at);
    """,
    # version 9: tokens scoped to apps (issue 28): '' reaches every app, else the space-separated names
    """
    ALTER TABLE tokens ADD COLUMN apps TEXT NOT NULL DEFAULT '';
    """,
    # version 10: a step's output in chunks, appended without rewriting what came before and capped
    # (dockyard/pipeline/output.py); `output || ?` made a build printing 300,000 lines take minutes
    """
    CREATE TABLE step_output (
        run_id INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        start INTEGER NOT NULL,  -- where its first byte is in all the step printed
        size INTEGER NOT NULL,   -- its length in UTF-8 bytes
        text TEXT NOT NULL,
        PRIMARY KEY (run_id, idx, start)
    );
    ALTER TABLE steps ADD COLUMN printed INTEGER NOT NULL DEFAULT 0;  -- bytes of output, the cut ones too
    ALTER TABLE steps ADD COLUMN lines INTEGER NOT NULL DEFAULT 0;
    INSERT INTO step_output SELECT run_id, idx, 0, length(CAST(output AS BLOB)), output FROM steps
        WHERE output != '';
    UPDATE steps SET printed = length(CAST(output AS BLOB)),
        lines = length(output) - length(replace(output, char(10), ''));
    ALTER TABLE steps DROP COLUMN output;
    """,
]


@dataclass(frozen=True)
class Build:
    app: str
    commit_sha: str
    tag: str
    image_id: str
    branch: str | None
    dirty: bool
    built_at: float


@dataclass(frozen=True)
class Release:
    seq: int
    app: str
    env: str
    release_id: str
    image: str
    commit_sha: str | None
    config_revision: int
    status: str  # live | superseded | failed | rolled-back
    created_at: float
    author: str
    note: str

    def as_json(self) -> dict[str, Any]:
        """In the JSON vocabulary (dockyard/vocabulary.py): actor, created_at in RFC 3339, null note."""
        return {"seq": self.seq, "app": self.app, "env": self.env, "release_id": self.release_id,
                "image": self.image, "commit_sha": self.commit_sha, "config_revision": self.config_revision,
                "status": self.status, "created_at": rfc3339(self.created_at), "actor": self.author,
                "note": absent(self.note)}


LOCK_WAIT = 30.0  # seconds a write waits for another process's transaction before it gives up


class Guarded:
    """The state database's connection, whose operational failures (locked for longer than
    LOCK_WAIT, a full disk, an I/O error) are StoreUnavailable naming the file: one clear message
    at any door, never SQLite's traceback. Everything else is the connection's own."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn, self._path = conn, path

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


def statements(script: str) -> Iterator[str]:
    """The statements of an SQL script, one by one (split where SQLite says one is complete)."""
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;"):
                yield pending
            pending = ""


class StateDB:
    def __init__(self, path: Path | None = None, lock_wait: float = LOCK_WAIT) -> None:
        self.path = path or settings.home() / "state.db"
        try:
            settings.private_file(self.path)
            # Shared by the deploy executor's threads (progress lines); SQLite serialises access itself.
            self.conn = Guarded(sqlite3.connect(self.path, timeout=lock_wait, isolation_level=None,
                                                check_same_thread=False), self.path)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self._migrate()
        except (sqlite3.Error, StoreUnavailable) as exc:
            raise StoreUnavailable(f"state database {self.path} cannot be opened: {exc}") from exc

    def _migrate(self) -> None:
        """Bring the schema up to date, one opener at a time: a new server's threads open a fresh
        database together, and a version read outside the write lock would have two of them make
        the same tables (one fails, and its half-done transaction holds the lock)."""
        if self.conn.execute("PRAGMA user_version").fetchone()[0] >= len(SCHEMA):
            return
        self.conn.execute("BEGIN IMMEDIATE")  # the others wait here (lock_wait), then find it done
        try:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(SCHEMA[version:], start=version + 1):
                for statement in statements(script):  # not executescript: it would COMMIT first
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number}")
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()

    # builds -------------------------------------------------------------
    def record_build(self, build: Build) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO builds VALUES (?,?,?,?,?,?,?)",
            (build.app, build.commit_sha, build.tag, build.image_id, build.branch, int(build.dirty),
             build.built_at),
        )

    def build(self, app: str, tag: str) -> Build | None:
        row = self.conn.execute("SELECT * FROM builds WHERE app=? AND tag=?", (app, tag)).fetchone()
        if row is None:
            return None
        app, commit_sha, tag, image_id, branch, dirty, built_at = row
        return Build(app, commit_sha, tag, image_id, branch, bool(dirty), built_at)

    def record_push(self, app: str, tag: str, registry: str, repository: str, digest: str) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO pushes VALUES (?,?,?,?,?,?)",
            (app, tag, registry, repository, digest, time.time()),
        )

    def pushes(self, app: str, tag: str) -> dict[str, tuple[str, str]]:
        """registry host -> (repository, digest) for one built tag."""
        rows = self.conn.execute(
            "SELECT registry, repository, digest FROM pushes WHERE app=? AND tag=?", (app, tag)
        )
        return {registry: (repo, digest) for registry, repo, digest in rows}

    def sibling_pushes(self, app: str, repository: str, digest: str | None) -> dict[str, tuple[str, str]]:
        """Every registry copy of the build that was pushed as repository@digest."""
        row = self.conn.execute(
            "SELECT tag FROM pushes WHERE app=? AND repository=? AND digest=?", (app, repository, digest)
        ).fetchone()
        return self.pushes(app, row[0]) if row else {}

    # releases -----------------------------------------------------------
    def add_release(self, app: str, env: str, release_id: str, image: str, commit_sha: str | None,
                    config_revision: int, status: str, author: str, note: str = "") -> int:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            if status == "live":
                self.conn.execute(
                    "UPDATE releases SET status='superseded' WHERE app=? AND env=? AND status='live'",
                    (app, env),
                )
            cur = self.conn.execute(
                "INSERT INTO releases (app, env, release_id, image, commit_sha, config_revision, status,"
                " created_at, author, note) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (app, env, release_id, image, commit_sha, config_revision, status, time.time(), author,
                 note),
            )
            return int(cur.lastrowid or 0)

    def mark_release(self, seq: int, status: str, note: str | None = None) -> None:
        self.conn.execute("UPDATE releases SET status=?, note=COALESCE(?, note) WHERE seq=?", (status, note, seq))

    def forget_releases(self, app: str, env: str) -> int:
        """Delete the environment's release history (dockyard down --purge); how many there were."""
        with self.conn:
            return int(self.conn.execute("DELETE FROM releases WHERE app=? AND env=?", (app, env)).rowcount)

    def releases(self, app: str, env: str, limit: int = 50) -> list[Release]:
        rows = self.conn.execute(
            "SELECT * FROM releases WHERE app=? AND env=? ORDER BY seq DESC LIMIT ?", (app, env, limit)
        )
        return [Release(*row) for row in rows]

    def live_release(self, app: str, env: str) -> Release | None:
        return next((r for r in self.releases(app, env) if r.status == "live"), None)

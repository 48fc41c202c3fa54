"""The state package's own tables: builds, pushes, releases and the audit log (its rows and head).

StateDB opens them with the database (state/db.py); its methods and state/audit.py read and write
them here, and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from dockyard.state.connection import Guarded
from dockyard.state.migrations import Migration, Migrations

MIGRATIONS = Migrations("state", [
    Migration("""
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
    """, legacy=1),
    # the audit log (issue 12)
    Migration("""
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
    """, legacy=4),
    # each run of a release's release task (issue 31): running while it runs, then its outcome
    Migration("""
    CREATE TABLE release_tasks (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app TEXT NOT NULL,
        env TEXT NOT NULL,
        release_id TEXT NOT NULL,
        container TEXT NOT NULL,
        status TEXT NOT NULL,
        exit_code INTEGER,
        seconds REAL,
        started_at REAL NOT NULL,
        ended_at REAL,
        output TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX release_tasks_release ON release_tasks (app, env, release_id, id);
    """),
    # every one-off run kept there: the release task's, the hooks' (hook.NAME) and the jobs' (job.NAME,
    # with the moment a run was due)
    Migration("""
    ALTER TABLE release_tasks RENAME TO task_runs;
    ALTER TABLE task_runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'release';
    ALTER TABLE task_runs ADD COLUMN due_at REAL;
    CREATE INDEX task_runs_kind ON task_runs (app, env, kind, id);
    """),
])

BuildRow = tuple[str, str, str, str, str | None, int, float]
ReleaseRow = tuple[int, str, str, str, str, str | None, int, str, float, str, str]
TaskRow = tuple[int, str, str, str, str, str, int | None, float | None, float, float | None, str, str, float | None]
AuditRecord = tuple[int, float, str, str, str, str, str, str, str, str]


class StateTables:
    """The rows of the state package's tables, on the state database's connection."""

    def __init__(self, conn: Guarded) -> None:
        self.conn = conn

    # builds and pushes ------------------------------------------------------
    def record_build(self, row: BuildRow) -> None:
        self.conn.execute("INSERT OR REPLACE INTO builds VALUES (?,?,?,?,?,?,?)", row)

    def build(self, app: str, tag: str) -> BuildRow | None:
        row: BuildRow | None = self.conn.execute("SELECT * FROM builds WHERE app=? AND tag=?", (app, tag)).fetchone()
        return row

    def record_push(self, app: str, tag: str, registry: str, repository: str, digest: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO pushes VALUES (?,?,?,?,?,?)",
                          (app, tag, registry, repository, digest, time.time()))

    def pushes(self, app: str, tag: str) -> list[tuple[str, str, str]]:
        """(registry, repository, digest) of each copy of one built tag."""
        return list(self.conn.execute("SELECT registry, repository, digest FROM pushes WHERE app=? AND tag=?",
                                      (app, tag)))

    def pushed_tag(self, app: str, repository: str, digest: str | None) -> str | None:
        row = self.conn.execute("SELECT tag FROM pushes WHERE app=? AND repository=? AND digest=?",
                                (app, repository, digest)).fetchone()
        return str(row[0]) if row else None

    # releases ---------------------------------------------------------------
    def add_release(self, app: str, env: str, release_id: str, image: str, commit_sha: str | None,
                    config_revision: int, status: str, author: str, note: str) -> int:
        """A new release row; a live one supersedes the environment's live one, in one transaction."""
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

    def mark_release(self, seq: int, status: str, note: str | None) -> None:
        self.conn.execute("UPDATE releases SET status=?, note=COALESCE(?, note) WHERE seq=?", (status, note, seq))

    def forget_releases(self, app: str, env: str) -> int:
        with self.conn:
            return int(self.conn.execute("DELETE FROM releases WHERE app=? AND env=?", (app, env)).rowcount)

    def releases(self, app: str, env: str, limit: int) -> list[ReleaseRow]:
        return list(self.conn.execute("SELECT * FROM releases WHERE app=? AND env=? ORDER BY seq DESC LIMIT ?",
                                      (app, env, limit)))

    # one-off runs: release tasks, hooks, jobs ------------------------------
    def start_task(self, app: str, env: str, release_id: str, container: str, kind: str,
                   due_at: float | None) -> int:
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO task_runs (app, env, release_id, container, status, started_at, kind, due_at)"
                " VALUES (?,?,?,?,'running',?,?,?)", (app, env, release_id, container, time.time(), kind, due_at))
            return int(cur.lastrowid or 0)

    def end_task(self, app: str, env: str, release_id: str, container: str, status: str, exit_code: int | None,
                 seconds: float, output: str, kind: str) -> None:
        """The task's outcome on its row (the one its start made; a row of its own when none is left)."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            row = self.conn.execute("SELECT id FROM task_runs WHERE app=? AND env=? AND container=? AND"
                                    " status='running' ORDER BY id DESC LIMIT 1", (app, env, container)).fetchone()
            if row is None:
                row = (int(self.conn.execute(
                    "INSERT INTO task_runs (app, env, release_id, container, status, started_at, kind) VALUES"
                    " (?,?,?,?,'running',?,?)", (app, env, release_id, container, time.time() - seconds, kind)
                ).lastrowid or 0),)
            self.conn.execute("UPDATE task_runs SET status=?, exit_code=?, seconds=?, ended_at=?, output=?"
                              " WHERE id=?", (status, exit_code, seconds, time.time(), output, row[0]))

    def tasks(self, app: str, env: str, kind: str, release_id: str | None, limit: int) -> list[TaskRow]:
        """Newest first; `kind` ending in '.' is a prefix (hook., job.)."""
        match, value = ("substr(kind, 1, ?)=?", (len(kind), kind)) if kind.endswith(".") else ("kind=?", (kind,))
        if release_id is None:
            return list(self.conn.execute(f"SELECT * FROM task_runs WHERE app=? AND env=? AND {match}"
                                          " ORDER BY id DESC LIMIT ?", (app, env, *value, limit)))
        return list(self.conn.execute(f"SELECT * FROM task_runs WHERE app=? AND env=? AND {match} AND release_id=?"
                                      " ORDER BY id DESC LIMIT ?", (app, env, *value, release_id, limit)))

    def task_of(self, app: str, env: str, container: str) -> TaskRow | None:
        """The latest run made in this container."""
        row: TaskRow | None = self.conn.execute("SELECT * FROM task_runs WHERE app=? AND env=? AND container=?"
                                                " ORDER BY id DESC LIMIT 1", (app, env, container)).fetchone()
        return row

    # the audit log ----------------------------------------------------------
    def begin_immediate(self) -> None:
        """Take the write lock now (two audit writers must not chain onto the same row)."""
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    def audit_head(self) -> tuple[int, str] | None:
        """(seq, hash) of the last row written, as the database keeps it."""
        row = self.conn.execute("SELECT seq, hash FROM audit_head WHERE one=1").fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def add_audit(self, record: AuditRecord) -> None:
        """A row of the log and the head after it (inside the caller's transaction)."""
        self.conn.execute("INSERT INTO audit (seq, at, actor, source, action, target, outcome, detail, prev, hash)"
                          " VALUES (?,?,?,?,?,?,?,?,?,?)", record)
        self.conn.execute("INSERT INTO audit_head (one, seq, hash) VALUES (1, ?, ?) ON CONFLICT(one) DO UPDATE"
                          " SET seq=excluded.seq, hash=excluded.hash", (record[0], record[-1]))

    def audit(self, since: float, target: str | None, limit: int) -> list[AuditRecord]:
        """Newest first; `target` matches a target or its environment part (app/env, env)."""
        sql = "SELECT * FROM audit WHERE at >= ?"
        args: list[Any] = [since]
        if target:
            sql += " AND (target = ? OR target LIKE ? OR target LIKE ?)"
            args += [target, f"%/{target}", f"%/{target}/%"]
        sql += " ORDER BY seq DESC LIMIT ?"
        return list(self.conn.execute(sql, (*args, limit)))

    def audit_in_order(self) -> Iterator[AuditRecord]:
        """Every row of the log, oldest first, as they are read."""
        yield from self.conn.execute("SELECT * FROM audit ORDER BY seq")

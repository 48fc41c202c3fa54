"""The jobs package's tables in the state database, its migrations and its SQL (nowhere else):
job_apps, the apps whose jobs the server runs (`dockyard jobs enable`: their dockyard.yml on the
server's disk, chosen by an operator, never by a commit); job_marks, per job the last moment of its
schedule that was handled (run, or skipped), so a server that comes back knows what it missed.
The runs themselves are the state package's task_runs (kind `job.NAME`)."""

from __future__ import annotations

import time
from pathlib import Path

from dockyard.state.db import StateDB
from dockyard.state.migrations import Migration, Migrations

MIGRATIONS = Migrations("jobs", [
    Migration("""
    CREATE TABLE job_apps (
        app TEXT PRIMARY KEY,
        spec_file TEXT NOT NULL,
        added_at REAL NOT NULL
    );
    CREATE TABLE job_marks (
        app TEXT NOT NULL,
        env TEXT NOT NULL,
        job TEXT NOT NULL,
        handled_to REAL NOT NULL,
        PRIMARY KEY (app, env, job)
    );
    """),
])


class JobStore:
    def __init__(self, db: StateDB) -> None:
        db.ensure(MIGRATIONS)
        self.conn = db.conn

    def enable(self, app: str, spec_file: Path) -> None:
        self.conn.execute("INSERT INTO job_apps VALUES (?,?,?) ON CONFLICT (app) DO UPDATE SET "
                          "spec_file=excluded.spec_file", (app, str(spec_file.resolve()), time.time()))

    def disable(self, app: str) -> bool:
        return self.conn.execute("DELETE FROM job_apps WHERE app=?", (app,)).rowcount > 0

    def apps(self) -> list[tuple[str, str]]:
        return [(a, f) for a, f in self.conn.execute("SELECT app, spec_file FROM job_apps ORDER BY app")]

    def mark(self, app: str, env: str, job: str) -> float | None:
        row = self.conn.execute("SELECT handled_to FROM job_marks WHERE app=? AND env=? AND job=?",
                                (app, env, job)).fetchone()
        return None if row is None else float(row[0])

    def set_mark(self, app: str, env: str, job: str, handled_to: float) -> None:
        self.conn.execute("INSERT INTO job_marks VALUES (?,?,?,?) ON CONFLICT (app, env, job) DO UPDATE SET "
                          "handled_to=excluded.handled_to", (app, env, job, handled_to))

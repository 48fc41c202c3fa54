"""The previews table (issue 33): one row per pull request preview of an app, whatever became of it.

A row's state: building (a run is queued or runs), ready, failed, refused (over `previews.max`),
closing (its take-down is queued), closed. The cap counts the previews that hold anything
(building, ready, failed, closing): a claim and its count are one transaction, so two pull requests
opened together cannot both take the last place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from dockyard.state.db import StateDB
from dockyard.state.migrations import Migration, Migrations
from dockyard.vocabulary import rfc3339

MIGRATIONS = Migrations("previews", [
    Migration("""
    CREATE TABLE previews (
        app TEXT NOT NULL,
        number INTEGER NOT NULL,
        state TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        trusted INTEGER NOT NULL,
        provider TEXT NOT NULL,
        repo TEXT NOT NULL DEFAULT '',
        project_id TEXT NOT NULL DEFAULT '',
        url TEXT NOT NULL DEFAULT '',
        run_id INTEGER,
        seeded INTEGER NOT NULL DEFAULT 0,
        ttl_s REAL NOT NULL DEFAULT 259200,
        message TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (app, number)
    );
    CREATE INDEX previews_run ON previews (run_id);
    """),
    Migration("""
    -- the provider's time of the last event applied: an older one is a replay (pipeline/previews.py)
    ALTER TABLE previews ADD COLUMN event_at REAL NOT NULL DEFAULT 0;
    """),
])

HOLDING = ("building", "ready", "failed", "closing")  # what counts against previews.max
_COLUMNS = ("app, number, state, commit_sha, trusted, provider, repo, project_id, url, run_id, seeded, ttl_s, "
            "message, created_at, updated_at, event_at")


@dataclass(frozen=True)
class PreviewRow:
    app: str
    number: int
    state: str
    commit: str
    trusted: bool
    provider: str  # github | gitlab | gitea | hand
    repo: str
    project_id: str
    url: str
    run_id: int | None
    seeded: bool  # its configuration was copied (and its accessories seeded) once
    ttl_s: float  # taken down this long after its last update (previews.ttl when it was last built)
    message: str
    created_at: float
    updated_at: float
    event_at: float = 0.0  # the provider's time of the last event applied (0: none said one)

    @property
    def env(self) -> str:
        return f"pr-{self.number}"

    def as_json(self) -> dict[str, Any]:
        return {"app": self.app, "number": self.number, "env": self.env, "state": self.state, "commit_sha": self.commit,
                "trusted": self.trusted, "provider": self.provider, "url": self.url or None, "run": self.run_id,
                "message": self.message or None, "created_at": rfc3339(self.created_at),
                "updated_at": rfc3339(self.updated_at)}


def _row(values: tuple[Any, ...]) -> PreviewRow:
    app, number, state, commit, trusted, provider, repo, project_id, url, run_id, seeded, ttl_s, message, \
        created, updated, event_at = values
    return PreviewRow(app, number, state, commit, bool(trusted), provider, repo, project_id, url, run_id,
                      bool(seeded), ttl_s, message, created, updated, event_at)


class PreviewStore:
    def __init__(self, db: StateDB) -> None:
        db.ensure(MIGRATIONS)
        self.conn = db.conn

    def get(self, app: str, number: int) -> PreviewRow | None:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM previews WHERE app=? AND number=?", (app, number)).fetchone()
        return None if row is None else _row(row)

    def of_run(self, run_id: int) -> PreviewRow | None:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM previews WHERE run_id=?", (run_id,)).fetchone()
        return None if row is None else _row(row)

    def rows(self, app: str | None = None, apps: tuple[str, ...] | None = None) -> list[PreviewRow]:
        rows = [_row(r) for r in self.conn.execute(f"SELECT {_COLUMNS} FROM previews ORDER BY app, number")]
        return [r for r in rows if (app is None or r.app == app) and (apps is None or r.app in apps)]

    def holding(self, app: str) -> list[PreviewRow]:
        return [r for r in self.rows(app) if r.state in HOLDING]

    def claim(self, app: str, number: int, commit: str, trusted: bool, provider: str, repo: str, project_id: str,
              cap: int, ttl_s: float, now: float | None = None) -> PreviewRow | None:
        """Make (or update) the preview's row as building, unless the app holds `cap` other previews:
        then None, and the row (if any) says refused. One transaction: the count and the claim agree."""
        now = time.time() if now is None else now
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            held = ",".join("?" * len(HOLDING))
            others = self.conn.execute(
                f"SELECT COUNT(*) FROM previews WHERE app=? AND number!=? AND state IN ({held})",
                (app, number, *HOLDING)).fetchone()[0]
            current = self.get(app, number)
            holds = current is not None and current.state in HOLDING
            if not holds and others >= cap:
                self.conn.execute("COMMIT")
                return None
            self.conn.execute(
                "INSERT INTO previews (app, number, state, commit_sha, trusted, provider, repo, project_id, ttl_s, "
                "created_at, updated_at) VALUES (?,?,'building',?,?,?,?,?,?,?,?) ON CONFLICT (app, number) DO UPDATE "
                "SET state='building', commit_sha=excluded.commit_sha, trusted=excluded.trusted, "
                "provider=excluded.provider, ttl_s=excluded.ttl_s,"
                " repo=excluded.repo, project_id=excluded.project_id, updated_at=excluded.updated_at, message='',"
                " seeded=CASE WHEN previews.state IN ('closed', 'refused') THEN 0 ELSE previews.seeded END,"
                " created_at=CASE WHEN previews.state IN ('closed', 'refused') THEN excluded.created_at"
                " ELSE previews.created_at END",
                (app, number, commit, int(trusted), provider, repo, project_id, ttl_s, now, now))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return self.get(app, number)

    def refused(self, app: str, number: int, commit: str, trusted: bool, provider: str, repo: str, project_id: str,
                message: str) -> PreviewRow:
        """Record a preview the cap refused (so `preview ls` and the dashboard show why it is not there)."""
        now = time.time()
        self.conn.execute(
            "INSERT INTO previews (app, number, state, commit_sha, trusted, provider, repo, project_id, message, "
            "created_at, updated_at) VALUES (?,?,'refused',?,?,?,?,?,?,?,?) ON CONFLICT (app, number) DO UPDATE SET "
            "state='refused', commit_sha=excluded.commit_sha, message=excluded.message, updated_at=excluded.updated_at",
            (app, number, commit, int(trusted), provider, repo, project_id, message, now, now))
        row = self.get(app, number)
        assert row is not None
        return row

    def set_run(self, app: str, number: int, run_id: int | None) -> None:
        self.conn.execute("UPDATE previews SET run_id=? WHERE app=? AND number=?", (run_id, app, number))

    def set_state(self, app: str, number: int, state: str, message: str = "", url: str | None = None) -> None:
        self.conn.execute("UPDATE previews SET state=?, message=?, url=COALESCE(?, url), updated_at=? "
                          "WHERE app=? AND number=?", (state, message, url, time.time(), app, number))

    def saw_event(self, app: str, number: int, at: float | None) -> None:
        """An event of the provider's time `at` was applied to the preview (None: by hand, no time)."""
        if at is not None:
            self.conn.execute("UPDATE previews SET event_at=MAX(event_at, ?) WHERE app=? AND number=?",
                              (at, app, number))

    def mark_seeded(self, app: str, number: int) -> None:
        self.conn.execute("UPDATE previews SET seeded=1 WHERE app=? AND number=?", (app, number))

    def expired(self, now: float | None = None) -> list[PreviewRow]:
        """Previews (ready or failed) not updated for their ttl."""
        now = time.time() if now is None else now
        return [r for r in self.rows() if r.state in ("ready", "failed") and now - r.updated_at >= r.ttl_s]

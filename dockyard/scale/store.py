"""The autoscaler's tables in the state database, their migrations, and its SQL (nowhere else):

scale_events     every decision, with its inputs, reason and what applying it did
scale_overrides  `dockyard scale ENV SERVICE N`: held by the loop until `--clear`
scale_apps       apps whose dockyard.yml the server's loop reads (`dockyard autoscale enable`)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from dockyard.state.db import StateDB
from dockyard.state.migrations import Migration, Migrations

if TYPE_CHECKING:  # a deploy reads the overrides here; the policy's decisions are the autoscaler's
    from dockyard.scale.policy import Decision

KEEP_EVENTS = 7 * 86400.0

MIGRATIONS = Migrations("scale", [
    Migration("""
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
    """, legacy=3),
])


@dataclass(frozen=True)
class Override:
    app: str
    env: str
    service: str
    replicas: int
    set_at: float
    author: str


class ScaleStore:
    def __init__(self, db: StateDB) -> None:
        db.ensure(MIGRATIONS)
        self.db = db
        self.conn = db.conn

    # decisions ------------------------------------------------------------
    def record(self, app: str, env: str, service: str, decision: Decision, outcome: str = "") -> int:
        inputs = {k: v for k, v in decision.record().items()
                  if k not in ("at", "current", "desired", "recommendation", "action", "reason")}
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            cur = self.conn.execute(
                "INSERT INTO scale_events (app, env, service, at, current, desired, recommendation, action, reason,"
                " outcome, inputs) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (app, env, service, decision.at, decision.current, decision.desired, decision.recommendation,
                 decision.action, decision.reason, outcome, orjson.dumps(inputs).decode()))
            self.conn.execute("DELETE FROM scale_events WHERE at < ?", (decision.at - KEEP_EVENTS,))
            return int(cur.lastrowid or 0)

    def set_outcome(self, event_id: int, outcome: str) -> None:
        self.conn.execute("UPDATE scale_events SET outcome=? WHERE id=?", (outcome, event_id))

    def events(self, app: str | None = None, env: str | None = None, service: str | None = None,
               since: float | None = None, limit: int = 100, changes_only: bool = False) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM scale_events WHERE 1=1", list[object]()
        for col, value in (("app", app), ("env", env), ("service", service)):
            if value:
                sql += f" AND {col}=?"
                args.append(value)
        if since is not None:
            sql += " AND at >= ?"
            args.append(since)
        if changes_only:
            sql += " AND action != 'hold'"
        cur = self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        for row in rows:
            row["inputs"] = orjson.loads(row["inputs"])
        return rows

    def window(self, app: str, env: str, service: str, seconds: float, now: float) -> list[dict[str, Any]]:
        """The decisions within the last `seconds`: what the stabilisation windows look back at."""
        return self.events(app, env, service, since=now - seconds, limit=10_000)

    def last_change(self, app: str, env: str, service: str) -> float | None:
        """When the count of the service was last changed by a decision that did not fail."""
        row = self.conn.execute(
            "SELECT MAX(at) FROM scale_events WHERE app=? AND env=? AND service=? AND action != 'hold' "
            "AND outcome NOT LIKE 'failed%'", (app, env, service)).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    # overrides --------------------------------------------------------------
    def set_override(self, app: str, env: str, service: str, replicas: int, author: str) -> None:
        self.conn.execute("INSERT INTO scale_overrides VALUES (?,?,?,?,?,?) ON CONFLICT (app, env, service) "
                          "DO UPDATE SET replicas=excluded.replicas, set_at=excluded.set_at, author=excluded.author",
                          (app, env, service, replicas, time.time(), author))

    def clear_override(self, app: str, env: str, service: str) -> bool:
        cur = self.conn.execute("DELETE FROM scale_overrides WHERE app=? AND env=? AND service=?",
                                (app, env, service))
        return cur.rowcount > 0

    def override(self, app: str, env: str, service: str) -> Override | None:
        row = self.conn.execute("SELECT * FROM scale_overrides WHERE app=? AND env=? AND service=?",
                                (app, env, service)).fetchone()
        return Override(*row) if row else None

    # apps the server scales ----------------------------------------------------
    def enable(self, app: str, spec_file: Path) -> None:
        self.conn.execute("INSERT INTO scale_apps VALUES (?,?,?) ON CONFLICT (app) DO UPDATE SET "
                          "spec_file=excluded.spec_file", (app, str(spec_file.resolve()), time.time()))

    def disable(self, app: str) -> bool:
        return self.conn.execute("DELETE FROM scale_apps WHERE app=?", (app,)).rowcount > 0

    def apps(self) -> list[tuple[str, str]]:
        return [(a, f) for a, f in self.conn.execute("SELECT app, spec_file FROM scale_apps ORDER BY app")]

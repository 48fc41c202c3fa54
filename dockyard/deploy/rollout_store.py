"""The rollouts table (issue 32): each canary rollout of an environment, its steps and where it is,
what a person asked of it, and the analysis of every step. It holds everything needed to go on
without the app's dockyard.yml: a rollout whose deploy was killed is taken over by the server."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from dockyard.state.db import StateDB
from dockyard.state.migrations import Migration, Migrations
from dockyard.vocabulary import rfc3339

MIGRATIONS = Migrations("rollouts", [
    Migration("""
    CREATE TABLE rollouts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app TEXT NOT NULL,
        env TEXT NOT NULL,
        release_id TEXT NOT NULL,
        stable_release TEXT NOT NULL,
        state TEXT NOT NULL,
        step INTEGER NOT NULL,
        weight INTEGER NOT NULL,
        step_started_at REAL NOT NULL,
        request TEXT NOT NULL DEFAULT '',
        request_by TEXT NOT NULL DEFAULT '',
        plan TEXT NOT NULL,
        results TEXT NOT NULL DEFAULT '[]',
        window TEXT NOT NULL DEFAULT '{}',
        reason TEXT NOT NULL DEFAULT '',
        author TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL
    );
    CREATE INDEX rollouts_env ON rollouts (app, env, id);
    """),
])

ACTIVE = ("running", "paused")
REQUESTS = ("pause", "resume", "promote", "promote-full", "abort")


@dataclass
class RolloutRow:
    """One rollout. `plan`: what it needs to go on by itself (steps, analysis rules, the engine, the
    canary's colour, the release's image and config revision, the services' stop grace)."""

    id: int
    app: str
    env: str
    release_id: str
    stable_release: str
    state: str  # running | paused | promoted | aborted
    step: int
    weight: int
    step_started_at: float
    request: str
    request_by: str
    plan: dict[str, Any]
    results: list[dict[str, Any]]
    reason: str
    author: str
    started_at: float
    ended_at: float | None = None
    window: dict[str, Any] = field(default_factory=dict)  # the step's analysis so far, as its driver last saw it

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def steps(self) -> list[dict[str, Any]]:
        return list(self.plan["steps"])

    def as_json(self) -> dict[str, Any]:
        """In the JSON vocabulary (dockyard/vocabulary.py): moments in RFC 3339, null for what is absent."""
        analysis = [{**done, "began_at": rfc3339(done["began_at"]), "ended_at": rfc3339(done["ended_at"])}
                    for done in self.results]
        window = {**self.window, "judged_at": rfc3339(self.window["judged_at"])} if self.window else None
        return {"id": self.id, "app": self.app, "env": self.env, "release_id": self.release_id,
                "stable_release_id": self.stable_release, "state": self.state, "step": self.step + 1,
                "steps": self.steps, "weight": self.weight, "step_started_at": rfc3339(self.step_started_at),
                "request": self.request or None, "reason": self.reason or None, "actor": self.author,
                "started_at": rfc3339(self.started_at), "ended_at": rfc3339(self.ended_at),
                "analysis": analysis, "window": window}


_COLUMNS = ("id, app, env, release_id, stable_release, state, step, weight, step_started_at, request, request_by, "
            "plan, results, reason, author, started_at, ended_at, window")


def _row(values: tuple[Any, ...]) -> RolloutRow:
    (id_, app, env, release, stable, state, step, weight, started, request, request_by, plan, results, reason,
     author, began, ended, window) = values
    return RolloutRow(id_, app, env, release, stable, state, step, weight, started, request, request_by,
                      orjson.loads(plan), orjson.loads(results), reason, author, began, ended, orjson.loads(window))


class RolloutStore:
    def __init__(self, db: StateDB) -> None:
        db.ensure(MIGRATIONS)
        self.conn = db.conn

    def start(self, app: str, env: str, release_id: str, stable: str, weight: int, plan: dict[str, Any],
              author: str) -> RolloutRow:
        now = time.time()
        cursor = self.conn.execute(
            "INSERT INTO rollouts (app, env, release_id, stable_release, state, step, weight, step_started_at, "
            "plan, author, started_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (app, env, release_id, stable, "running", 0, weight, now, orjson.dumps(plan).decode(), author, now))
        found = self.get(int(cursor.lastrowid or 0))
        assert found is not None
        return found

    def get(self, rollout_id: int) -> RolloutRow | None:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM rollouts WHERE id=?", (rollout_id,)).fetchone()
        return None if row is None else _row(row)

    def latest(self, app: str, env: str) -> RolloutRow | None:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM rollouts WHERE app=? AND env=? ORDER BY id DESC LIMIT 1",
                                (app, env)).fetchone()
        return None if row is None else _row(row)

    def active(self) -> list[RolloutRow]:
        return [_row(r) for r in self.conn.execute(
            f"SELECT {_COLUMNS} FROM rollouts WHERE state IN ('running', 'paused') ORDER BY id")]

    def ask(self, rollout_id: int, request: str, by: str) -> bool:
        """A person's request, carried out by whoever drives the rollout; False if it has ended."""
        return self.conn.execute("UPDATE rollouts SET request=?, request_by=? WHERE id=? AND state IN "
                                 "('running', 'paused')", (request, by, rollout_id)).rowcount > 0

    def save_window(self, rollout_id: int, window: dict[str, Any]) -> None:
        self.conn.execute("UPDATE rollouts SET window=? WHERE id=?", (orjson.dumps(window).decode(), rollout_id))

    def save(self, row: RolloutRow, taken: str = "") -> None:
        """Where the rollout is now; the request it carried out (`taken`) is cleared, a newer one kept."""
        self.conn.execute(
            "UPDATE rollouts SET state=?, step=?, weight=?, step_started_at=?, results=?, reason=?, ended_at=?, "
            "window=?, request=CASE WHEN request=? THEN '' ELSE request END WHERE id=?",
            (row.state, row.step, row.weight, row.step_started_at, orjson.dumps(row.results).decode(), row.reason,
             row.ended_at, orjson.dumps(row.window).decode(), taken or "\0", row.id))

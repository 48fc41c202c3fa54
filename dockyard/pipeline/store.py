"""Durable pipeline state in the state database: apps, runs, their steps and the steps' output.
The pipeline package's tables and their migrations are here, and its SQL nowhere else.

Every transition is one SQLite transaction, so a run survives a crash of the process that
executes it: a run whose owner stopped sending heartbeats is taken up again by the next worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dockyard.errors import DockyardError, Forbidden, NotFound
from dockyard.pipeline.model import StepDef
from dockyard.pipeline.output import FULL_LOG_DAYS, KEEP, FullLogs, Piece, cut_note, from_line, pieces
from dockyard.state.connection import Guarded
from dockyard.state.db import StateDB
from dockyard.state.migrations import Migration, Migrations
from dockyard.vocabulary import absent, rfc3339

HEARTBEAT_TIMEOUT = 10.0

MIGRATIONS = Migrations("pipeline", [
    Migration("""
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
    """, legacy=2),
    # who started a run by hand (issue 12)
    Migration("""
    ALTER TABLE runs ADD COLUMN started_by TEXT NOT NULL DEFAULT '';
    """, legacy=4),
    # a step's output in chunks, appended without rewriting what came before and capped
    # (pipeline/output.py); `output || ?` made a build printing 300,000 lines take minutes
    Migration("""
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
    """, legacy=10),
])


@dataclass(frozen=True)
class AppRecord:
    name: str
    repo: str
    spec_file: str


@dataclass(frozen=True)
class Run:
    id: int
    app: str
    commit_sha: str
    branch: str
    trigger: str
    status: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    error: str
    owner: str
    heartbeat: float | None
    started_by: str = ""  # the token or OS user who started it by hand; "" for a hook, webhook or poll

    def as_json(self) -> dict[str, Any]:
        """In the JSON vocabulary (dockyard/vocabulary.py): actor, RFC 3339 times, null for absent."""
        return {"id": self.id, "app": self.app, "commit_sha": self.commit_sha, "branch": self.branch,
                "trigger": self.trigger, "status": self.status, "created_at": rfc3339(self.created_at),
                "started_at": rfc3339(self.started_at), "ended_at": rfc3339(self.ended_at),
                "error": absent(self.error), "actor": absent(self.started_by), "owner": absent(self.owner),
                "heartbeat": rfc3339(self.heartbeat)}


@dataclass(frozen=True)
class Step:
    run_id: int
    idx: int
    kind: str
    env: str
    name: str
    status: str
    started_at: float | None
    ended_at: float | None
    approved_by: str | None
    approved_at: float | None
    printed: int = 0  # bytes of output, the ones no longer kept too: where the next output starts
    lines: int = 0  # lines of output
    output: str = ""  # the output kept (its last KEEP bytes, after a note of what was cut); "" unless asked

    def as_json(self) -> dict[str, Any]:
        """Its state in the JSON vocabulary, without its output."""
        return {"idx": self.idx, "kind": self.kind, "env": absent(self.env), "name": self.name,
                "status": self.status, "started_at": rfc3339(self.started_at), "ended_at": rfc3339(self.ended_at),
                "approved_by": absent(self.approved_by), "approved_at": rfc3339(self.approved_at)}


STEP_COLUMNS = "run_id, idx, kind, env, name, status, started_at, ended_at, approved_by, approved_at, printed, lines"


class StepOutput:
    """The steps' output rows on the state database `conn`, and their full logs under `folder`."""

    def __init__(self, conn: Guarded, folder: Path) -> None:
        self.conn = conn
        self.logs = FullLogs(folder)

    def append(self, run_id: int, idx: int, text: str) -> None:
        """Add `text` (a line is ended) to the step's output, inside the caller's transaction."""
        row = self.conn.execute("SELECT printed FROM steps WHERE run_id=? AND idx=?", (run_id, idx)).fetchone()
        if row is None or not text:
            return
        text = text if text.endswith("\n") else text + "\n"
        printed = row[0]
        rows = []
        for part in pieces(text):
            size = len(part.encode())
            rows.append((run_id, idx, printed, size, part))
            printed += size
        self.conn.executemany("INSERT INTO step_output (run_id, idx, start, size, text) VALUES (?,?,?,?,?)", rows)
        self.conn.execute("UPDATE steps SET printed=?, lines=lines+? WHERE run_id=? AND idx=?",
                          (printed, text.count("\n"), run_id, idx))
        window = printed - KEEP
        if window > 0:  # the rows wholly before the last KEEP bytes
            self.conn.execute("DELETE FROM step_output WHERE run_id=? AND idx=? AND start < ? AND start + size <= ?",
                              (run_id, idx, window, window))
        self.logs.write(run_id, idx, text)

    def since(self, run_id: int, idx: int, offset: int) -> Piece:
        """What the step printed after byte `offset`, from a line's start; a note first when part of
        it is no longer kept."""
        row = self.conn.execute("SELECT printed FROM steps WHERE run_id=? AND idx=?", (run_id, idx)).fetchone()
        printed = row[0] if row else 0
        if offset >= printed:
            return Piece("", offset, offset)
        begin = max(offset, printed - KEEP)
        rows = self.conn.execute(
            "SELECT start, size, text FROM step_output WHERE run_id=? AND idx=? AND start >= (SELECT COALESCE("
            "MAX(start), 0) FROM step_output WHERE run_id=? AND idx=? AND start <= ?) ORDER BY start",
            (run_id, idx, run_id, idx, begin)).fetchall()
        if not rows:
            return Piece("", offset, offset)
        start, first = from_line(rows[0][0], rows[0][2], begin)
        text = first + "".join(r[2] for r in rows[1:])
        end = rows[-1][0] + rows[-1][1]
        note = cut_note(run_id, start - offset, max(printed, end)) if start > offset else ""
        return Piece(note + text, start, end)

    def full_log(self, run_id: int, idx: int) -> Path | None:
        return self.logs.path(run_id, idx)

    def prune(self, days: float = FULL_LOG_DAYS) -> list[int]:
        """Remove the full logs of runs that ended more than `days` ago (or are gone); their ids."""
        return self.logs.prune(days, self._ended_before)

    def _ended_before(self, run_id: int, before: float) -> bool:
        row = self.conn.execute("SELECT ended_at FROM runs WHERE id=?", (run_id,)).fetchone()
        return row is None or (row[0] is not None and row[0] < before)


class RunStore:
    def __init__(self, db: StateDB) -> None:
        db.ensure(MIGRATIONS)
        self.db = db
        self.conn = db.conn
        self.output = StepOutput(db.conn, db.path.parent / "runs")

    def run_json(self, run_id: int, output: bool = False) -> dict[str, Any]:
        """A run and its steps, as the API and `dockyard pipeline ls|show --json` give them."""
        data = self.run(run_id).as_json()
        steps = []
        for step in self.steps(run_id, output=output):
            item = step.as_json()
            item["output_lines"] = step.lines
            if output:
                item["output"] = step.output
            steps.append(item)
        data["steps"] = steps
        return data

    # apps ---------------------------------------------------------------
    def register_app(self, name: str, repo: str, spec_file: str, replace: bool = False) -> None:
        """Register an app's repository. Moving a registered name to another repository takes `replace`
        (an admin's `app add --replace`): a checkout whose dockyard.yml says another app's name must not
        take that name over (issue 28)."""
        row = self.conn.execute("SELECT repo FROM apps WHERE name=?", (name,)).fetchone()
        if row is not None and row[0] != repo and not replace:
            raise Forbidden(f"app {name!r} is registered with repository {row[0]}, not {repo}: a repository "
                            "cannot take over another app's name",
                            hint=f"an admin moves it: dockyard app add {name} --repo {repo} --replace")
        self.conn.execute(
            "INSERT INTO apps VALUES (?,?,?,?) ON CONFLICT(name) DO UPDATE SET repo=excluded.repo,"
            " spec_file=excluded.spec_file", (name, repo, spec_file, time.time()))

    def app(self, name: str) -> AppRecord:
        row = self.conn.execute("SELECT name, repo, spec_file FROM apps WHERE name=?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"app {name!r} is not registered for pipelines",
                           hint="in its repository: dockyard hook install (or dockyard app add)")
        return AppRecord(*row)

    def apps(self) -> list[AppRecord]:
        return [AppRecord(*r) for r in self.conn.execute("SELECT name, repo, spec_file FROM apps ORDER BY name")]

    # runs ---------------------------------------------------------------
    def create_run(self, app: str, commit: str, branch: str, trigger: str, steps: list[StepDef],
                   supersede: bool, started_by: str = "") -> int:
        now = time.time()
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            if supersede:
                self.conn.execute(
                    "UPDATE runs SET status='superseded', ended_at=?, error=? WHERE app=? AND branch=?"
                    " AND status='queued' AND started_at IS NULL",
                    (now, f"superseded by a newer commit {commit[:7]}", app, branch))
            cur = self.conn.execute(
                "INSERT INTO runs (app, commit_sha, branch, trigger, status, created_at, started_by)"
                " VALUES (?,?,?,?,?,?,?)", (app, commit, branch, trigger, "queued", now, started_by))
            run_id = int(cur.lastrowid or 0)
            self.conn.executemany(
                "INSERT INTO steps (run_id, idx, kind, env, name, status) VALUES (?,?,?,?,?,?)",
                [(run_id, i, s.kind, s.env, s.name, "pending") for i, s in enumerate(steps)])
        return run_id

    def run(self, run_id: int) -> Run:
        row = self.conn.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise NotFound(f"run {run_id} does not exist", hint="dockyard pipeline ls")
        return Run(*row)

    def runs(self, app: str | None = None, limit: int = 30, apps: tuple[str, ...] | None = None) -> list[Run]:
        """Newest first: of one app, of these apps (a token's), or of all."""
        sql, args = "SELECT * FROM runs", list[object]()
        if app:
            sql, args = sql + " WHERE app=?", [app]
        elif apps is not None:
            sql, args = sql + f" WHERE app IN ({', '.join('?' * len(apps))})", list(apps)
        return [Run(*r) for r in self.conn.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))]

    def steps(self, run_id: int, output: bool = True) -> list[Step]:
        """The run's steps; with `output`, each with the output kept (followers read `output_since`)."""
        rows = self.conn.execute(f"SELECT {STEP_COLUMNS} FROM steps WHERE run_id=? ORDER BY idx", (run_id,))
        steps = [Step(*r) for r in rows]
        if not output:
            return steps
        return [self._with_output(s) if s.printed else s for s in steps]

    def _with_output(self, step: Step) -> Step:
        piece = self.output.since(step.run_id, step.idx, 0)
        # printed as far as the output read: a follower that starts there sees no line twice
        return replace(step, output=piece.text, printed=max(step.printed, piece.end))

    def output_since(self, run_id: int, idx: int, offset: int) -> Piece:
        """What step `idx` printed after byte `offset` (its `printed` when last seen): each line once."""
        return self.output.since(run_id, idx, offset)

    def full_log(self, run_id: int, idx: int) -> str:
        """All the step printed while its full log is kept (output.FULL_LOG_DAYS), else what is kept."""
        path = self.output.full_log(run_id, idx)
        if path is None:
            return self.output.since(run_id, idx, 0).text
        return path.read_text(errors="replace")

    def pending_apps(self) -> list[str]:
        """Apps with a queued run, or a running one (whose worker may have died), oldest run first."""
        return [r[0] for r in self.conn.execute(
            "SELECT app FROM runs WHERE status IN ('queued', 'running') GROUP BY app ORDER BY MIN(id)")]

    def claim_next(self, owner: str, app: str | None = None) -> Run | None:
        """Take the oldest queued run (of `app`), a run resumed after approval or a crash included."""
        of_app = " AND app=?" if app is not None else ""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            row = self.conn.execute(f"SELECT id FROM runs WHERE status='queued'{of_app} ORDER BY id LIMIT 1",
                                    (app,) if app is not None else ()).fetchone()
            if row is None:
                return None
            now = time.time()
            self.conn.execute(
                "UPDATE runs SET status='running', owner=?, heartbeat=?, started_at=COALESCE(started_at, ?)"
                " WHERE id=?", (owner, now, now, row[0]))
        return self.run(row[0])

    def heartbeat(self, run_id: int, owner: str) -> None:
        self.conn.execute("UPDATE runs SET heartbeat=? WHERE id=? AND owner=?", (time.time(), run_id, owner))

    def finish_run(self, run_id: int, status: str, error: str = "") -> None:
        self.conn.execute("UPDATE runs SET status=?, ended_at=?, error=? WHERE id=?",
                          (status, time.time() if status != "waiting" else None, error, run_id))
        if status in ("failed", "cancelled", "interrupted"):
            self.conn.execute("UPDATE steps SET status='skipped' WHERE run_id=? AND status='pending'", (run_id,))

    def start_step(self, run_id: int, idx: int) -> None:
        self.conn.execute("UPDATE steps SET status='running', started_at=?, ended_at=NULL WHERE run_id=? AND idx=?",
                          (time.time(), run_id, idx))

    def end_step(self, run_id: int, idx: int, status: str) -> None:
        self.conn.execute("UPDATE steps SET status=?, ended_at=? WHERE run_id=? AND idx=?",
                          (status, time.time(), run_id, idx))

    def append_output(self, run_id: int, idx: int, text: str) -> None:
        """Add lines to a step's output now (the runner batches them: pipeline/steplog.py)."""
        self.append_outputs(run_id, [(idx, text)])

    def append_outputs(self, run_id: int, texts: list[tuple[int, str]]) -> None:
        """Add (step, lines) to the run's steps' output, in one transaction."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for idx, text in texts:
                self.output.append(run_id, idx, text)

    def approve(self, run_id: int, who: str, four_eyes: Callable[[str], bool] = lambda env: True) -> Step:
        """Approve the gate the run waits at. With four eyes on for the gate's environment (the
        default), whoever started the run by hand cannot approve it."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            run = self.run(run_id)
            row = self.conn.execute("SELECT idx, env FROM steps WHERE run_id=? AND status='waiting'",
                                    (run_id,)).fetchone()
            if run.status != "waiting" or row is None:
                raise DockyardError(f"run {run_id} is not waiting for an approval (it is {run.status})")
            if run.started_by and run.started_by == who and four_eyes(row[1]):
                raise Forbidden(f"{who} started run {run_id} and cannot approve its {row[1]} gate too (four eyes)",
                                hint="someone else approves it; or turn four_eyes off for "
                                f"{row[1]} in settings.yml")
            now = time.time()
            self.conn.execute("UPDATE steps SET status='succeeded', ended_at=?, approved_by=?, approved_at=?"
                              " WHERE run_id=? AND idx=?", (now, who, now, run_id, row[0]))
            self.output.append(run_id, row[0], f"approved by {who}\n")
            self.conn.execute("UPDATE runs SET status='queued' WHERE id=?", (run_id,))
        return self.steps(run_id)[row[0]]

    def cancel(self, run_id: int, who: str) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            run = self.run(run_id)
            if run.status not in ("queued", "running", "waiting"):
                raise DockyardError(f"run {run_id} has already ended ({run.status})")
            self.conn.execute("UPDATE runs SET status='cancelled', ended_at=?, error=? WHERE id=?",
                              (time.time(), f"cancelled by {who}", run_id))
            self.conn.execute("UPDATE steps SET status='cancelled', ended_at=? WHERE run_id=? AND status IN"
                              " ('pending', 'waiting')", (time.time(), run_id))

    def recover(self, stale_after: float = HEARTBEAT_TIMEOUT, app: str | None = None) -> list[int]:
        """Runs (of `app`) whose worker died (no heartbeat for `stale_after` s): queue them again; the
        interrupted step runs again. The holder of the app's worker lock passes 0: no other worker can
        be running them."""
        of_app = " AND app=?" if app is not None else ""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            ids = [r[0] for r in self.conn.execute(
                f"SELECT id FROM runs WHERE status='running' AND (heartbeat IS NULL OR heartbeat < ?){of_app}",
                (time.time() - stale_after, *([app] if app is not None else [])))]
            for run_id in ids:
                for (idx,) in self.conn.execute("SELECT idx FROM steps WHERE run_id=? AND status='running'",
                                                (run_id,)).fetchall():
                    self.output.append(run_id, idx, "-- interrupted: the worker stopped; running again --\n")
                self.conn.execute("UPDATE steps SET status='pending' WHERE run_id=? AND status='running'", (run_id,))
                self.conn.execute("UPDATE runs SET status='queued', owner='' WHERE id=?", (run_id,))
        return ids

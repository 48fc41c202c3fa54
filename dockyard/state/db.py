"""Dockyard's own state: builds and releases, in SQLite under $DOCKYARD_HOME.

What is live is always read back from the engine's labels; this database keeps the
history the engine cannot: which digest a commit built to, and every release per env.
The other packages keep their tables here too, each declared and queried in its own
repository module and made at its first use (state/migrations.py).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard import settings
from dockyard.errors import StoreUnavailable
from dockyard.state.connection import LOCK_WAIT, open_guarded
from dockyard.state.migrations import Migrations, ensure
from dockyard.state.store import MIGRATIONS, StateTables
from dockyard.vocabulary import absent, rfc3339


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


@dataclass(frozen=True)
class TaskRecord:
    """One run of a one-off: the release task (kind `release`), a hook (`hook.NAME`) or a job
    (`job.NAME`): `running` while it runs (or when whoever ran it was killed and nobody collected it
    yet), then succeeded, failed or timed out."""

    id: int
    app: str
    env: str
    release_id: str
    container: str
    status: str
    exit_code: int | None
    seconds: float | None
    started_at: float
    ended_at: float | None
    output: str
    kind: str = "release"
    due_at: float | None = None  # a job's: the moment the run was due

    @property
    def ended(self) -> bool:
        """Its outcome is recorded (whatever became of its container since)."""
        return self.status != "running"

    def as_json(self) -> dict[str, Any]:
        return {"status": self.status, "exit_code": self.exit_code,
                "seconds": None if self.seconds is None else round(self.seconds, 3),
                "started_at": rfc3339(self.started_at), "ended_at": rfc3339(self.ended_at)}


class StateDB:
    """The state database: its connection, the migration runner at its door, the state package's tables."""

    def __init__(self, path: Path | None = None, lock_wait: float = LOCK_WAIT) -> None:
        self.path = path or settings.home() / "state.db"
        try:
            settings.private_file(self.path)
            self.conn = open_guarded(self.path, lock_wait)
            self.ensure(MIGRATIONS)
        except (sqlite3.Error, StoreUnavailable) as exc:
            raise StoreUnavailable(f"state database {self.path} cannot be opened: {exc}") from exc
        self._tables = StateTables(self.conn)

    def ensure(self, migrations: Migrations) -> None:
        """Make or bring up to date a package's tables (state/migrations.py); cheap once done."""
        ensure(self.conn, migrations)

    def close(self) -> None:
        self.conn.close()

    # builds -------------------------------------------------------------
    def record_build(self, build: Build) -> None:
        self._tables.record_build((build.app, build.commit_sha, build.tag, build.image_id, build.branch,
                                   int(build.dirty), build.built_at))

    def build(self, app: str, tag: str) -> Build | None:
        row = self._tables.build(app, tag)
        if row is None:
            return None
        app, commit_sha, tag, image_id, branch, dirty, built_at = row
        return Build(app, commit_sha, tag, image_id, branch, bool(dirty), built_at)

    def record_push(self, app: str, tag: str, registry: str, repository: str, digest: str) -> None:
        self._tables.record_push(app, tag, registry, repository, digest)

    def pushes(self, app: str, tag: str) -> dict[str, tuple[str, str]]:
        """registry host -> (repository, digest) for one built tag."""
        return {registry: (repo, digest) for registry, repo, digest in self._tables.pushes(app, tag)}

    def sibling_pushes(self, app: str, repository: str, digest: str | None) -> dict[str, tuple[str, str]]:
        """Every registry copy of the build that was pushed as repository@digest."""
        tag = self._tables.pushed_tag(app, repository, digest)
        return self.pushes(app, tag) if tag is not None else {}

    # releases -----------------------------------------------------------
    def add_release(self, app: str, env: str, release_id: str, image: str, commit_sha: str | None,
                    config_revision: int, status: str, author: str, note: str = "") -> int:
        return self._tables.add_release(app, env, release_id, image, commit_sha, config_revision, status, author,
                                        note)

    def mark_release(self, seq: int, status: str, note: str | None = None) -> None:
        self._tables.mark_release(seq, status, note)

    def forget_releases(self, app: str, env: str) -> int:
        """Delete the environment's release history (dockyard down --purge); how many there were."""
        return self._tables.forget_releases(app, env)

    def releases(self, app: str, env: str, limit: int = 50) -> list[Release]:
        return [Release(*row) for row in self._tables.releases(app, env, limit)]

    def start_task(self, app: str, env: str, release_id: str, container: str, kind: str = "release",
                   due_at: float | None = None) -> int:
        return self._tables.start_task(app, env, release_id, container, kind, due_at)

    def end_task(self, app: str, env: str, release_id: str, container: str, status: str, exit_code: int | None,
                 seconds: float, output: str, kind: str = "release") -> None:
        self._tables.end_task(app, env, release_id, container, status, exit_code, seconds, output, kind)

    def release_tasks(self, app: str, env: str, release_id: str | None = None, limit: int = 50) -> list[TaskRecord]:
        """The release task's runs in the environment (of one release), newest first."""
        return self.task_runs(app, env, "release", release_id, limit)

    def task_runs(self, app: str, env: str, kind: str, release_id: str | None = None,
                  limit: int = 50) -> list[TaskRecord]:
        """Runs of one kind of one-off (`hook.` or `job.`: of every hook or job), newest first."""
        return [TaskRecord(*row) for row in self._tables.tasks(app, env, kind, release_id, limit)]

    def task_of(self, app: str, env: str, container: str) -> TaskRecord | None:
        """The latest run made in this container (None: no run was recorded in it)."""
        row = self._tables.task_of(app, env, container)
        return TaskRecord(*row) if row else None

    def release_history(self, app: str, env: str, limit: int = 50) -> list[dict[str, Any]]:
        """Each release as JSON (newest first) with the last run of its release task (null: none ran)."""
        last: dict[str, TaskRecord] = {}
        for task in self.release_tasks(app, env, None, limit=max(4 * limit, 200)):
            last.setdefault(task.release_id, task)
        return [{**r.as_json(), "release_task": last[r.release_id].as_json() if r.release_id in last else None}
                for r in self.releases(app, env, limit)]

    def live_release(self, app: str, env: str) -> Release | None:
        return next((r for r in self.releases(app, env) if r.status == "live"), None)

"""Scheduled backups, taken by the server's loop (issue 16): for every app registered with
`dockyard backup schedule` (its dockyard.yml on the server's disk, chosen by an operator, never
by a commit), each accessory with `backup.every` is backed up when its newest backup is that old,
then its retention is applied. Each one is written to the audit log as the server's doing."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from dockyard.backup.plan import due
from dockyard.backup.service import Backups
from dockyard.backup.store import ScheduleStore
from dockyard.backup.stores import BackupStore
from dockyard.config.service import ConfigService
from dockyard.errors import DockyardError
from dockyard.spec import AppSpec, load_spec
from dockyard.state.audit import AuditLog
from dockyard.state.db import StateDB

ACTOR = "dockyard-server"


class Scheduler:
    def __init__(self, db: StateDB, store: Callable[[], BackupStore], config: Callable[[], ConfigService],
                 report: Callable[[str], None]) -> None:
        self.db, self.store, self.config, self.report = db, store, config, report

    def specs(self) -> list[AppSpec]:
        specs = []
        for app, path in ScheduleStore(self.db).apps():
            try:
                specs.append(load_spec(Path(path)))
            except DockyardError as exc:
                self.report(f"{app} ({path}) skipped: {exc.message.splitlines()[0]}")
        return specs

    def run_once(self, now: float | None = None) -> list[str]:
        """Take every backup that is due; what was done, a line each (failures included)."""
        done: list[str] = []
        for spec in self.specs():
            backups = Backups(spec, self.store(), self.config(), self.report, by=ACTOR)
            for env in spec.env_names():
                for name, accessory in spec.accessories_of(env).items():
                    every = accessory.backup.every if accessory.backup else None
                    if every is None:
                        continue
                    done += self._one(backups, spec.app, env, name, every, now or time.time())
        return done

    def _one(self, backups: Backups, app: str, env: str, name: str, every: float, now: float) -> list[str]:
        target = f"{app}/{env}/{name}"
        audit = AuditLog(self.db)
        try:
            if not backups.booted(env, name):
                return []
            newest = backups.ls(env, name)
            if not due(newest[0].created_at if newest else None, every, now):
                return []
            made = backups.create(env, name)
        except DockyardError as exc:
            audit.record(ACTOR, "schedule", "backup create", target, f"failed: {exc.message}"[:500])
            line = f"scheduled backup of {target} failed: {exc.message.splitlines()[0]}"
            self.report(line)
            return [line]
        audit.record(ACTOR, "schedule", "backup create", target, "ok", made.id)
        lines = [f"scheduled backup {made.id} of {target}"]
        try:
            gone = backups.prune(env, name)
        except DockyardError as exc:
            lines.append(f"retention of {target} failed: {exc.message.splitlines()[0]}")
            return lines
        if gone:
            audit.record(ACTOR, "schedule", "backup prune", target, "ok", " ".join(m.id for m in gone))
            lines.append(f"deleted {len(gone)} old backup(s) of {target}")
        return lines



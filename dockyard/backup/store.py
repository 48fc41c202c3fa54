"""The backup package's table in the state database, its migrations, and its SQL (nowhere else):
backup_apps, the apps whose scheduled backups the server takes (backup/schedule.py). The stores
that keep the backups themselves, folders and buckets, are backup/stores.py."""

from __future__ import annotations

import time
from pathlib import Path

from dockyard.state.db import StateDB
from dockyard.state.migrations import Migration, Migrations

MIGRATIONS = Migrations("backup", [
    Migration("""
    CREATE TABLE backup_apps (
        app TEXT PRIMARY KEY,
        spec_file TEXT NOT NULL,
        added_at REAL NOT NULL
    );
    """, legacy=5),
])


class ScheduleStore:
    def __init__(self, db: StateDB) -> None:
        db.ensure(MIGRATIONS)
        self.conn = db.conn

    def enable(self, app: str, spec_file: Path) -> None:
        self.conn.execute("INSERT INTO backup_apps VALUES (?,?,?) ON CONFLICT (app) DO UPDATE SET "
                          "spec_file=excluded.spec_file", (app, str(spec_file.resolve()), time.time()))

    def disable(self, app: str) -> bool:
        return self.conn.execute("DELETE FROM backup_apps WHERE app=?", (app,)).rowcount > 0

    def apps(self) -> list[tuple[str, str]]:
        return [(a, f) for a, f in self.conn.execute("SELECT app, spec_file FROM backup_apps ORDER BY app")]

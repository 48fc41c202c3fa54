"""The migration runner: each package keeps its own tables in the state database.

A package declares its tables in its repository module (`<package>/store.py`) as a list of
migrations, `MIGRATIONS = Migrations("pipeline", [...])`, and every class there that queries them
opens them first with `db.ensure(MIGRATIONS)`: idempotent, and after the first time on a connection
a lookup in a set. The state package knows the runner, never another package's tables (it is below
them all), and a package's tables exist before its first query at any door (CLI, server, worker,
agent), because the only way to them is through its repository.

Each package's version is its row of schema_versions. A database made before there were versions
per package (up to issue 29) has one number for all of them, PRAGMA user_version (1..10, the old
single list of state/db.py): each migration says at which of those old versions a database already
had it (`legacy`), so such a database starts each package at what it has, nothing moved or copied.
user_version itself is never written again: it stays the mark of what the old list had made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dockyard.state.connection import Guarded, statements

VERSIONS = "CREATE TABLE IF NOT EXISTS schema_versions (package TEXT PRIMARY KEY, version INTEGER NOT NULL)"


@dataclass(frozen=True)
class Migration:
    script: str  # SQL statements, run in one transaction with the package's other pending ones
    legacy: int | None = None  # the old user_version from which a database has this already; None: made since


class Migrations:
    """A package's migrations, in order. The ones from the old single list come first."""

    def __init__(self, package: str, steps: Iterable[Migration]) -> None:
        self.package = package
        self.steps = tuple(steps)
        legacy = [m.legacy for m in self.steps if m.legacy is not None]
        if legacy != sorted(legacy) or any(m.legacy is None for m in self.steps[:len(legacy)]):
            raise ValueError(f"{package}: the migrations of the old list come first, in their order")

    def baseline(self, user_version: int) -> int:
        """How many of the migrations a database of the old list at `user_version` already has."""
        return sum(1 for m in self.steps if m.legacy is not None and m.legacy <= user_version)


def ensure(conn: Guarded, migrations: Migrations) -> None:
    """Bring the package's tables up to date, once per connection."""
    if migrations.package in conn.ensured:
        return
    if version(conn, migrations) < len(migrations.steps):
        _migrate(conn, migrations)
    conn.ensured.add(migrations.package)


def version(conn: Guarded, migrations: Migrations) -> int:
    """The package's version in the database: its row, else what the old single list made."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_versions'").fetchone():
        row = conn.execute("SELECT version FROM schema_versions WHERE package=?", (migrations.package,)).fetchone()
        if row is not None:
            return int(row[0])
    return migrations.baseline(int(conn.execute("PRAGMA user_version").fetchone()[0]))


def _migrate(conn: Guarded, migrations: Migrations) -> None:
    """Apply the pending migrations, one opener at a time: a new server's threads open a fresh
    database together, and a version read outside the write lock would have two of them make
    the same tables (one fails, and its half-done transaction holds the lock)."""
    nested = conn.in_transaction  # a caller's transaction: its savepoint, under the caller's lock
    conn.execute("SAVEPOINT migrate" if nested else "BEGIN IMMEDIATE")  # the others wait here (lock_wait)
    try:
        conn.execute(VERSIONS)
        done = version(conn, migrations)  # again, under the lock: another opener may have done it
        for step in migrations.steps[done:]:
            for statement in statements(step.script):  # not executescript: it would COMMIT first
                conn.execute(statement)
        if done < len(migrations.steps):
            conn.execute("INSERT INTO schema_versions (package, version) VALUES (?, ?) ON CONFLICT (package)"
                         " DO UPDATE SET version=excluded.version", (migrations.package, len(migrations.steps)))
        conn.execute("RELEASE migrate" if nested else "COMMIT")
    except BaseException:
        if nested:
            conn.execute("ROLLBACK TO migrate")
            conn.execute("RELEASE migrate")
        elif conn.in_transaction:
            conn.execute("ROLLBACK")
        raise

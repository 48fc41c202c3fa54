"""The server's tables in the state database, their migrations, and its SQL (nowhere else):

tokens           API tokens, kept as their SHA-256 (server/auth.py)
sessions         the dashboard's log-ins (server/sessions.py)
deliveries       the webhooks' delivery ids, and webhook_pushes the pushes they accepted
polled           the last commit the poller saw on each branch (server/poller.py)

What the webhooks have received (issue 28): a delivery id is chosen by the sender and is not
covered by the signature, so it cannot tell a replay from a new push: it only answers a provider's
own redelivery quickly. A push is identified by what it asks for, (app, branch, commit): it is a
duplicate when the last push accepted for that branch asked for the same commit, whatever its
delivery id. (A branch that moved away and came back to a commit, a revert, is a new push: its
last accepted push named another commit.) Rows older than the retention window are pruned, except
the last accepted push of each branch, which the duplicate check needs however old it is.
"""

from __future__ import annotations

import time

from dockyard.state.db import StateDB
from dockyard.state.migrations import Migration, Migrations

DAY = 86400.0

MIGRATIONS = Migrations("server", [
    Migration("""
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    );
    CREATE TABLE polled (
        app TEXT NOT NULL,
        branch TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        PRIMARY KEY (app, branch)
    );
    """, legacy=2),
    # scoped tokens and webhook deliveries (issue 12)
    Migration("""
    ALTER TABLE tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'admin';  -- tokens made before had every right
    ALTER TABLE tokens ADD COLUMN expires_at REAL;
    ALTER TABLE tokens ADD COLUMN last_used_at REAL;
    UPDATE tokens SET name = name || '-' || id WHERE id NOT IN (SELECT MIN(id) FROM tokens GROUP BY name);
    CREATE UNIQUE INDEX tokens_name ON tokens (name);
    CREATE TABLE deliveries (
        provider TEXT NOT NULL,
        delivery TEXT NOT NULL,
        received_at REAL NOT NULL,
        PRIMARY KEY (provider, delivery)
    );
    """, legacy=4),
    # the dashboard's log-in sessions
    Migration("""
    CREATE TABLE sessions (
        sha256 TEXT PRIMARY KEY,
        token_id INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX sessions_token ON sessions (token_id);
    """, legacy=6),
    # the pushes webhooks accepted, so the same push never runs twice
    Migration("""
    CREATE TABLE webhook_pushes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app TEXT NOT NULL,
        branch TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        provider TEXT NOT NULL,
        delivery TEXT NOT NULL,
        received_at REAL NOT NULL
    );
    CREATE INDEX webhook_pushes_branch ON webhook_pushes (app, branch, id);
    CREATE INDEX webhook_pushes_at ON webhook_pushes (received_at);
    CREATE INDEX deliveries_at ON deliveries (received_at);
    """, legacy=8),
    # tokens scoped to apps (issue 28): '' reaches every app, else the space-separated names
    Migration("""
    ALTER TABLE tokens ADD COLUMN apps TEXT NOT NULL DEFAULT '';
    """, legacy=9),
])

TOKEN_COLUMNS = "id, name, created_at, scopes, expires_at, last_used_at, apps"
TokenRow = tuple[int, str, float, str, float | None, float | None, str]


class TokenTable:
    """The rows of `tokens` (TOKEN_COLUMNS), and the sessions that go with them."""

    def __init__(self, db: StateDB) -> None:
        db.ensure(MIGRATIONS)
        self.conn = db.conn

    def insert(self, name: str, sha256: str, created_at: float, scopes: str, expires_at: float | None,
               apps: str) -> int:
        """The new row's id; sqlite3.IntegrityError when the name or hash is taken."""
        cur = self.conn.execute(
            "INSERT INTO tokens (name, sha256, created_at, scopes, expires_at, apps) VALUES (?,?,?,?,?,?)",
            (name, sha256, created_at, scopes, expires_at, apps))
        return int(cur.lastrowid or 0)

    def all(self) -> list[TokenRow]:
        return list(self.conn.execute(f"SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY id"))

    def by_id(self, token_id: int) -> TokenRow | None:
        row: TokenRow | None = self.conn.execute(f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE id=?",
                                                 (token_id,)).fetchone()
        return row

    def by_hash(self, sha256: str) -> TokenRow | None:
        row: TokenRow | None = self.conn.execute(f"SELECT {TOKEN_COLUMNS} FROM tokens WHERE sha256=?",
                                                 (sha256,)).fetchone()
        return row

    def delete(self, ids: list[int]) -> None:
        """The tokens, and their sessions with them."""
        self.conn.executemany("DELETE FROM tokens WHERE id=?", [(i,) for i in ids])
        self.conn.executemany("DELETE FROM sessions WHERE token_id=?", [(i,) for i in ids])

    def used(self, token_id: int, now: float) -> None:
        self.conn.execute("UPDATE tokens SET last_used_at=? WHERE id=?", (now, token_id))


class SessionTable:
    """The rows of `sessions`, by the SHA-256 of their id."""

    def __init__(self, db: StateDB) -> None:
        db.ensure(MIGRATIONS)
        self.conn = db.conn

    def start(self, sha256: str, token_id: int, csrf: str, now: float, expires_at: float, keep: int) -> None:
        """A new session; the expired ones, and the token's past the newest `keep`, end."""
        self.conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))  # keep the table small
        self.conn.execute("INSERT INTO sessions (sha256, token_id, csrf, created_at, expires_at) VALUES (?,?,?,?,?)",
                          (sha256, token_id, csrf, now, expires_at))
        self.conn.execute("DELETE FROM sessions WHERE token_id=? AND rowid NOT IN (SELECT rowid FROM sessions"
                          " WHERE token_id=? ORDER BY rowid DESC LIMIT ?)", (token_id, token_id, keep))

    def find(self, sha256: str) -> tuple[int, str, float] | None:
        """(token id, CSRF secret, expiry) of a session."""
        row = self.conn.execute("SELECT token_id, csrf, expires_at FROM sessions WHERE sha256=?",
                                (sha256,)).fetchone()
        return (int(row[0]), str(row[1]), float(row[2])) if row else None

    def end(self, sha256: str) -> None:
        self.conn.execute("DELETE FROM sessions WHERE sha256=?", (sha256,))


class Deliveries:
    """What the webhooks have received: delivery ids, and the pushes that were accepted."""

    def __init__(self, db: StateDB) -> None:
        db.ensure(MIGRATIONS)
        self.conn = db.conn

    def receive(self, provider: str, delivery: str, now: float | None = None) -> bool:
        """Record a delivery id; False when it was received before (a redelivery or a replay)."""
        cursor = self.conn.execute("INSERT OR IGNORE INTO deliveries (provider, delivery, received_at) VALUES (?,?,?)",
                                   (provider, delivery, time.time() if now is None else now))
        return cursor.rowcount == 1

    def forget(self, provider: str, delivery: str) -> None:
        """Undo `receive` when the push could not be queued, so the provider's retry is not refused."""
        self.conn.execute("DELETE FROM deliveries WHERE provider=? AND delivery=?", (provider, delivery))

    def last_push(self, app: str, branch: str) -> tuple[str, str] | None:
        """(commit, delivery) of the last push accepted for the branch."""
        row = self.conn.execute("SELECT commit_sha, delivery FROM webhook_pushes WHERE app=? AND branch=?"
                                " ORDER BY id DESC LIMIT 1", (app, branch)).fetchone()
        return (row[0], row[1]) if row else None

    def claim_push(self, app: str, branch: str, commit: str, provider: str, delivery: str,
                   now: float | None = None) -> int | None:
        """Accept the push unless the branch's last accepted push named the same commit: the claim's
        id, or None for a duplicate. One claimant at a time, so two copies sent together count once."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            last = self.last_push(app, branch)
            if last is not None and last[0] == commit:
                self.conn.execute("COMMIT")
                return None
            cursor = self.conn.execute(
                "INSERT INTO webhook_pushes (app, branch, commit_sha, provider, delivery, received_at)"
                " VALUES (?,?,?,?,?,?)", (app, branch, commit, provider, delivery, time.time() if now is None else now))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return int(cursor.lastrowid or 0)

    def unclaim(self, claim: int) -> None:
        self.conn.execute("DELETE FROM webhook_pushes WHERE id=?", (claim,))

    def prune(self, retention_days: float, now: float | None = None) -> int:
        """Forget what is older than the window (each branch's last accepted push excepted); how many."""
        before = (time.time() if now is None else now) - retention_days * DAY
        gone = self.conn.execute("DELETE FROM deliveries WHERE received_at < ?", (before,)).rowcount
        gone += self.conn.execute(
            "DELETE FROM webhook_pushes WHERE received_at < ? AND id NOT IN"
            " (SELECT MAX(id) FROM webhook_pushes GROUP BY app, branch)", (before,)).rowcount
        return int(gone)


class PollMarks:
    """The last commit the poller saw on each (app, branch)."""

    def __init__(self, db: StateDB) -> None:
        db.ensure(MIGRATIONS)
        self.conn = db.conn

    def last_seen(self, app: str, branch: str) -> str | None:
        row = self.conn.execute("SELECT commit_sha FROM polled WHERE app=? AND branch=?", (app, branch)).fetchone()
        return str(row[0]) if row else None

    def remember(self, app: str, branch: str, commit: str) -> None:
        self.conn.execute("INSERT INTO polled VALUES (?,?,?) ON CONFLICT(app, branch) DO UPDATE SET"
                          " commit_sha=excluded.commit_sha", (app, branch, commit))

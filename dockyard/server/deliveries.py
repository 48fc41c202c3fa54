"""What the webhooks have received: delivery ids, and the pushes that were accepted (issue 28).

A delivery id is chosen by the sender and is not covered by the signature, so it cannot tell a
replay from a new push: it only answers a provider's own redelivery quickly. A push is identified by
what it asks for, (app, branch, commit): it is a duplicate when the last push accepted for that
branch asked for the same commit, whatever its delivery id. (A branch that moved away and came
back to a commit, a revert, is a new push: its last accepted push named another commit.)

Rows older than the retention window are pruned, except the last accepted push of each branch,
which the duplicate check needs however old it is.
"""

from __future__ import annotations

import time

from dockyard.state.db import StateDB

DAY = 86400.0


class Deliveries:
    def __init__(self, db: StateDB) -> None:
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

"""The durable outbox in the state database, its migrations, and the notify package's SQL (nowhere
else): one row per (event, channel), written when the event
happens and kept until it is delivered (or given up after GIVE_UP_AFTER). A row's key is unique, so
an event emitted again is not queued twice; a server killed mid-delivery sends it again at its next
start, with the same key."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from dockyard.notify.model import Event, backoff, delivery_key
from dockyard.state.db import StateDB
from dockyard.state.migrations import Migration, Migrations

GIVE_UP_AFTER = 24 * 3600.0

MIGRATIONS = Migrations("notify", [
    Migration("""
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        channel TEXT NOT NULL,
        event TEXT NOT NULL,
        app TEXT NOT NULL,
        env TEXT NOT NULL,
        text TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at REAL NOT NULL,
        next_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        delivered_at REAL,
        given_up_at REAL,
        last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX outbox_due ON outbox (delivered_at, given_up_at, next_at);
    """, legacy=7),
])


@dataclass(frozen=True)
class Delivery:
    id: int
    key: str
    channel: str
    event: Event
    attempts: int
    created_at: float
    delivered_at: float | None
    given_up_at: float | None
    last_error: str


_COLUMNS = ("id, key, channel, event, app, env, text, payload, created_at, attempts, delivered_at, given_up_at,"
            " last_error")


def _delivery(row: tuple) -> Delivery:
    id_, key, channel, kind, app, env, text, payload, created, attempts, delivered, given_up, error = row
    event = Event(key.rpartition("/")[0], kind, app, env, text, created, orjson.loads(payload))
    return Delivery(id_, key, channel, event, attempts, created, delivered, given_up, error)


class Outbox:
    def __init__(self, db: StateDB) -> None:
        db.ensure(MIGRATIONS)
        self.conn = db.conn

    def enqueue(self, event: Event, channels: list[str]) -> int:
        """Queue the event for each channel; returns how many rows are new."""
        cur = self.conn.executemany(
            "INSERT OR IGNORE INTO outbox (key, channel, event, app, env, text, payload, created_at, next_at)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            [(delivery_key(event.id, c), c, event.kind, event.app, event.env, event.text, orjson.dumps(event.data),
              event.at, event.at) for c in channels])
        return cur.rowcount

    def due(self, now: float, limit: int = 50) -> list[Delivery]:
        return [_delivery(r) for r in self.conn.execute(
            f"SELECT {_COLUMNS} FROM outbox WHERE delivered_at IS NULL AND given_up_at IS NULL AND next_at <= ?"
            " ORDER BY id LIMIT ?", (now, limit))]

    def delivered(self, delivery: Delivery, now: float, note: str = "") -> None:
        """Taken by the receiver; `note` says what it refused of it (kept as its last error)."""
        self.conn.execute("UPDATE outbox SET delivered_at=?, attempts=attempts+1, last_error=? WHERE id=?",
                          (now, note[:500], delivery.id))

    def failed(self, delivery: Delivery, error: str, now: float) -> bool:
        """Record a failed attempt and when to try again; True when it is given up."""
        attempts = delivery.attempts + 1
        give_up = now - delivery.created_at >= GIVE_UP_AFTER
        self.conn.execute("UPDATE outbox SET attempts=?, next_at=?, last_error=?, given_up_at=? WHERE id=?",
                          (attempts, now + backoff(attempts), error[:500], now if give_up else None, delivery.id))
        return give_up

    def recent(self, limit: int = 50) -> list[Delivery]:
        return [_delivery(r) for r in self.conn.execute(
            f"SELECT {_COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?", (limit,))]

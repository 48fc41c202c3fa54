"""The one event outbox in the state database, its migrations, and the notify package's SQL (nowhere
else). `events`: one row per event (a run, a release, an alert the server took from the host's
agent, a certificate problem of the edge), its id unique, so a fact seen again is one event.
`outbox`: its deliveries, one row per (event, channel), written when the event happens and kept
until it is delivered (or given up after GIVE_UP_AFTER). A delivery's key is unique, so an event
emitted again is not queued twice; a server killed mid-delivery sends it again at its next start,
with the same key."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from dockyard.notify.model import Event, backoff, delivery_key
from dockyard.state.db import StateDB
from dockyard.state.migrations import Migration, Migrations

GIVE_UP_AFTER = 24 * 3600.0
DAY = 86400.0
EVENTS_KEPT = 90 * DAY  # how long the history of events is kept (dockyard events, the dashboard)
DELIVERIES_KEPT = 30 * DAY  # a delivered or given-up delivery; pending ones stay until they are

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
    # The events themselves; the deliveries queued before there was this table become its first rows
    # (an event's id is its delivery's key less "/CHANNEL").
    Migration("""
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        app TEXT NOT NULL,
        env TEXT NOT NULL,
        text TEXT NOT NULL,
        payload TEXT NOT NULL,
        at REAL NOT NULL,
        began_at REAL,
        host TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_kind ON events (kind, at);
    INSERT OR IGNORE INTO events (key, kind, app, env, text, payload, at)
        SELECT substr(key, 1, length(key) - length(channel) - 1), event, app, env, text, payload, created_at
        FROM outbox ORDER BY id;
    """),
    # their retention bounds, applied as they are written, find the old rows by age
    Migration("""
    CREATE INDEX events_at ON events (at);
    CREATE INDEX outbox_created ON outbox (created_at);
    """),
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
        """Queue the event for each channel; returns how many rows are new. Deliveries done (or given
        up) longer than DELIVERIES_KEPT ago go."""
        self.conn.execute("DELETE FROM outbox WHERE created_at < ? AND (delivered_at IS NOT NULL OR given_up_at IS NOT "
                          "NULL)", (event.at - DELIVERIES_KEPT,))
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


@dataclass(frozen=True)
class Recorded:
    """An event as the outbox holds it, with the host it happened on ('' when not said)."""
    event: Event
    host: str


class Events:
    def __init__(self, db: StateDB) -> None:
        db.ensure(MIGRATIONS)
        self.conn = db.conn

    def append(self, event: Event, host: str = "") -> bool:
        """Record the event; False when it was there already (the same id). Events older than
        EVENTS_KEPT go."""
        self.conn.execute("DELETE FROM events WHERE at < ?", (event.at - EVENTS_KEPT,))
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO events (key, kind, app, env, text, payload, at, began_at, host)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (event.id, event.kind, event.app, event.env, event.text, orjson.dumps(event.data), event.at,
             event.began_at, host))
        return cur.rowcount == 1

    def recent(self, kinds: tuple[str, ...], app: str | None = None, env: str | None = None,
               limit: int = 100) -> list[Recorded]:
        """The newest events of these kinds (of this app and environment when given), newest first."""
        sql = f"SELECT key, kind, app, env, text, payload, at, began_at, host FROM events" \
              f" WHERE kind IN ({','.join('?' * len(kinds))})"
        args: list[object] = list(kinds)
        for col, value in (("app", app), ("env", env)):
            if value:
                sql += f" AND {col}=?"
                args.append(value)
        rows = self.conn.execute(sql + " ORDER BY at DESC, id DESC LIMIT ?", (*args, limit)).fetchall()
        return [Recorded(Event(key, kind, app_, env_, text, at, orjson.loads(payload), began), host)
                for key, kind, app_, env_, text, payload, at, began, host in rows]

"""Recent history for the dashboard and the autoscaler: samples and alert events in SQLite,
with a retention bound (age) applied as it writes. Its own file: $DOCKYARD_HOME/monitor.db.

A day is kept by default, at full resolution for the last hour only (what the autoscaler and the
hour chart read); older samples are thinned to one per container per 5 minutes, which keeps the
bucket's mean CPU and highest memory (the counters are cumulative: any one of them gives the rate).
So a container's day is ~640 rows rather than 8,640 at the agent's 10 s.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from dockyard import settings
from dockyard.errors import StoreUnavailable
from dockyard.monitor.alerts import AlertEvent
from dockyard.monitor.model import Sample

SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    at REAL NOT NULL, host TEXT NOT NULL, container TEXT NOT NULL, app TEXT, env TEXT, service TEXT,
    up INTEGER NOT NULL, cpu_percent REAL, memory_bytes INTEGER, memory_limit_bytes INTEGER,
    net_rx_bytes INTEGER, net_tx_bytes INTEGER, blkio_read_bytes INTEGER, blkio_write_bytes INTEGER,
    disk_bytes INTEGER, restarts INTEGER
);
CREATE INDEX IF NOT EXISTS samples_at ON samples (at);
CREATE INDEX IF NOT EXISTS samples_scope ON samples (app, env, service, at);
CREATE TABLE IF NOT EXISTS events (
    rule TEXT NOT NULL, container TEXT NOT NULL, app TEXT, env TEXT, service TEXT, host TEXT,
    started_at REAL NOT NULL, ended_at REAL, message TEXT NOT NULL,
    PRIMARY KEY (rule, container, started_at)
);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, at INTEGER NOT NULL);
"""

DAY = 86400.0
FINE_S = 3600.0  # full resolution for this long
COARSE_STEP = 300  # then one sample per container per this many seconds
# The connection's page cache: the agent appends 50 rows every 10 s and reads back only for the
# dashboard, so a small one does (SQLite's default grows to 2 MiB as the file grows: resident memory
# of an agent that runs for the host's whole life, issue 30: under 40 MB). Losing the last samples
# in a power cut is harmless: commits are synced at checkpoints only (WAL, synchronous=NORMAL).
CACHE_KIB = 256
COLUMNS = ("cpu_percent", "memory_bytes", "memory_limit_bytes", "net_rx_bytes", "net_tx_bytes",
           "blkio_read_bytes", "blkio_write_bytes", "disk_bytes", "restarts")


class History:
    def __init__(self, path: Path | None = None, retention_s: float = DAY,
                 events_retention_s: float = 7 * DAY) -> None:
        self.path = path or settings.home() / "monitor.db"
        self.retention_s = retention_s
        self.events_retention_s = events_retention_s
        self.thinned_to = 0.0  # samples before this are one per container per COARSE_STEP
        self.lock = threading.Lock()
        try:
            settings.private_file(self.path)
            self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"monitor history {self.path} cannot be opened: {exc}") from exc

    def record(self, host: str, samples: list[Sample], now: float | None = None) -> None:
        now = now or time.time()
        rows = [(s.at or now, host, s.name, s.app, s.env, s.service, int(s.up),
                 *(getattr(s, c) for c in COLUMNS)) for s in samples]
        with self.lock, self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany(f"INSERT INTO samples VALUES ({','.join('?' * (7 + len(COLUMNS)))})", rows)
            self.conn.execute("DELETE FROM samples WHERE at < ?", (now - self.retention_s,))
            self.conn.execute("DELETE FROM events WHERE ended_at IS NOT NULL AND ended_at < ?",
                              (now - self.events_retention_s,))
            self._thin(now)

    def _thin(self, now: float) -> None:
        """Thin the whole COARSE_STEP buckets that left the last FINE_S since the last pass: each
        bucket's first row is kept, carrying the bucket's mean CPU and highest memory."""
        cut = (now - FINE_S) // COARSE_STEP * COARSE_STEP
        if cut <= self.thinned_to:
            return
        window = {"start": self.thinned_to, "cut": cut}
        self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS kept (id INTEGER PRIMARY KEY, cpu REAL, memory INTEGER)")
        self.conn.execute("DELETE FROM kept")
        self.conn.execute(f"""
            INSERT INTO kept SELECT MIN(rowid), AVG(cpu_percent), MAX(memory_bytes) FROM samples
            WHERE at >= :start AND at < :cut GROUP BY host, container, CAST(at / {COARSE_STEP} AS INTEGER)""", window)
        self.conn.execute("UPDATE samples SET cpu_percent = kept.cpu, memory_bytes = kept.memory FROM kept"
                          " WHERE samples.rowid = kept.id")
        self.conn.execute("DELETE FROM samples WHERE at >= :start AND at < :cut AND rowid NOT IN (SELECT id FROM kept)",
                          window)
        self.thinned_to = cut

    def record_events(self, host: str, events: list[AlertEvent]) -> None:
        with self.lock, self.conn:
            self.conn.execute("BEGIN")
            self.conn.executemany(
                "INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?,?,?,?)",
                [(e.rule, e.container, e.app, e.env, e.service, host, e.started_at, e.ended_at, e.message)
                 for e in events])

    # Where the agent is in the engine's event stream (nanoseconds), so that a restarted agent goes
    # on from there: a container that died while it was down is still an event. Replays are
    # harmless: an event's key is (rule, container, started_at).
    def cursor(self, name: str) -> int | None:
        with self.lock:
            row = self.conn.execute("SELECT at FROM cursors WHERE name=?", (name,)).fetchone()
        return int(row[0]) if row else None

    def set_cursor(self, name: str, at: int) -> None:
        with self.lock, self.conn:
            self.conn.execute("INSERT OR REPLACE INTO cursors VALUES (?, ?)", (name, at))

    def events(self, limit: int = 100, app: str | None = None, env: str | None = None) -> list[dict]:
        sql = "SELECT rule, container, app, env, service, host, started_at, ended_at, message FROM events"
        where, args = [], []
        for col, value in (("app", app), ("env", env)):
            if value:
                where.append(f"{col}=?")
                args.append(value)
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY started_at DESC LIMIT ?"
        with self.lock:
            rows = self.conn.execute(sql, (*args, limit)).fetchall()
        keys = ("rule", "container", "app", "env", "service", "host", "started_at", "ended_at", "message")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def samples(self, since: float, container: str | None = None, app: str | None = None,
                env: str | None = None, service: str | None = None, limit: int = 10_000) -> list[dict]:
        sql = "SELECT * FROM samples WHERE at >= ?"
        args: list[object] = [since]
        for col, value in (("container", container), ("app", app), ("env", env), ("service", service)):
            if value:
                sql += f" AND {col}=?"
                args.append(value)
        with self.lock:  # past the limit, the newest rows (oldest first)
            cur = self.conn.execute(sql + " ORDER BY at DESC LIMIT ?", (*args, limit))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in reversed(cur.fetchall())]

    def close(self) -> None:
        self.conn.close()

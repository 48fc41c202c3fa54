"""The state database's schema as one list, as it was until issue 29 (state/db.py at bcc5841):
version N of it is PRAGMA user_version = N. Kept here, word for word, to build the databases that
sites still have, and to check that a fresh database still gets the very same tables."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = [
    # version 1
    """
    CREATE TABLE builds (
        app TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        tag TEXT NOT NULL,
        image_id TEXT NOT NULL,
        branch TEXT,
        dirty INTEGER NOT NULL,
        built_at REAL NOT NULL,
        PRIMARY KEY (app, tag)
    );
    CREATE TABLE pushes (
        app TEXT NOT NULL,
        tag TEXT NOT NULL,
        registry TEXT NOT NULL,
        repository TEXT NOT NULL,
        digest TEXT NOT NULL,
        pushed_at REAL NOT NULL,
        PRIMARY KEY (app, tag, registry)
    );
    CREATE TABLE releases (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        app TEXT NOT NULL,
        env TEXT NOT NULL,
        release_id TEXT NOT NULL,
        image TEXT NOT NULL,
        commit_sha TEXT,
        config_revision INTEGER NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        author TEXT NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX releases_app_env ON releases (app, env, seq);
    """,
    # version 2: pipelines
    """
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
    """,
    # version 3: autoscaling (dockyard/scale/store.py)
    """
    CREATE TABLE scale_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        app TEXT NOT NULL,
        env TEXT NOT NULL,
        service TEXT NOT NULL,
        at REAL NOT NULL,
        current INTEGER NOT NULL,
        desired INTEGER NOT NULL,
        recommendation INTEGER NOT NULL,
        action TEXT NOT NULL,
        reason TEXT NOT NULL,
        outcome TEXT NOT NULL DEFAULT '',
        inputs TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX scale_events_scope ON scale_events (app, env, service, at);
    CREATE TABLE scale_overrides (
        app TEXT NOT NULL,
        env TEXT NOT NULL,
        service TEXT NOT NULL,
        replicas INTEGER NOT NULL,
        set_at REAL NOT NULL,
        author TEXT NOT NULL,
        PRIMARY KEY (app, env, service)
    );
    CREATE TABLE scale_apps (
        app TEXT PRIMARY KEY,
        spec_file TEXT NOT NULL,
        added_at REAL NOT NULL
    );
    """,
    # version 4: scoped tokens, who started a run, the audit log, webhook deliveries (issue 12)
    """
    ALTER TABLE tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'admin';  -- tokens made before had every right
    ALTER TABLE tokens ADD COLUMN expires_at REAL;
    ALTER TABLE tokens ADD COLUMN last_used_at REAL;
    UPDATE tokens SET name = name || '-' || id WHERE id NOT IN (SELECT MIN(id) FROM tokens GROUP BY name);
    CREATE UNIQUE INDEX tokens_name ON tokens (name);
    ALTER TABLE runs ADD COLUMN started_by TEXT NOT NULL DEFAULT '';
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        source TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        prev TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_at ON audit (at);
    CREATE TABLE audit_head (one INTEGER PRIMARY KEY CHECK (one = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL);
    CREATE TABLE deliveries (
        provider TEXT NOT NULL,
        delivery TEXT NOT NULL,
        received_at REAL NOT NULL,
        PRIMARY KEY (provider, delivery)
    );
    """,
    # version 5: the apps whose scheduled backups the server takes (dockyard/backup/schedule.py)
    """
    CREATE TABLE backup_apps (
        app TEXT PRIMARY KEY,
        spec_file TEXT NOT NULL,
        added_at REAL NOT NULL
    );
    """,
    # version 6: the dashboard's log-in sessions (dockyard/server/sessions.py)
    """
    CREATE TABLE sessions (
        sha256 TEXT PRIMARY KEY,
        token_id INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX sessions_token ON sessions (token_id);
    """,
    # version 7: the notifications' outbox (dockyard/notify/outbox.py)
    """
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
    """,
    # version 8: the pushes webhooks accepted, so the same push never runs twice (dockyard/server/deliveries.py)
    """
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
    """,
    # version 9: tokens scoped to apps (issue 28): '' reaches every app, else the space-separated names
    """
    ALTER TABLE tokens ADD COLUMN apps TEXT NOT NULL DEFAULT '';
    """,
    # version 10: a step's output in chunks, appended without rewriting what came before and capped
    # (dockyard/pipeline/output.py); `output || ?` made a build printing 300,000 lines take minutes
    """
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
    """,
]


def legacy_database(path: Path, version: int) -> sqlite3.Connection:
    """A database as the old code left it at `version` (open, for the caller to fill and close)."""
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(SCHEMA[:version], start=1):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
    return conn

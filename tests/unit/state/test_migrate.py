"""A fresh state database opened by many at once (a new server's threads all start together):
each waits for the one that makes the schema, none fails and none is left holding a lock."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from dockyard.state.db import SCHEMA, StateDB


def test_a_new_database_opened_by_many_at_once_is_made_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    start = threading.Barrier(8)
    failures: list[BaseException] = []
    opened: list[StateDB] = []

    def open_it() -> None:
        start.wait()
        try:
            opened.append(StateDB(path))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            failures.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, [str(f) for f in failures]
    assert len(opened) == 8
    assert opened[0].conn.execute("PRAGMA user_version").fetchone()[0] == len(SCHEMA)
    for db in opened:  # no connection is left inside a transaction: each of them can write at once
        assert not db.conn.in_transaction
    with opened[-1].conn:
        opened[-1].conn.execute("BEGIN IMMEDIATE")
    for db in opened:
        db.close()


def test_a_database_from_an_older_version_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(f"BEGIN; {SCHEMA[0]}; PRAGMA user_version = 1; COMMIT;")
    conn.close()
    db = StateDB(path)
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == len(SCHEMA)
    db.close()

"""The state database's migrations, per package (issue 29): a fresh database opened by many at once
is made once; one of the old single list (PRAGMA user_version 1..10) is taken up where it is, with
every row kept; a fresh one gets the very same tables as the old list made."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path

import pytest

from dockyard.backup.store import MIGRATIONS as BACKUP
from dockyard.jobs.store import MIGRATIONS as JOBS
from dockyard.notify.store import MIGRATIONS as NOTIFY
from dockyard.pipeline.store import MIGRATIONS as PIPELINE
from dockyard.scale.store import MIGRATIONS as SCALE
from dockyard.server.store import MIGRATIONS as SERVER
from dockyard.state.db import StateDB
from dockyard.state.migrations import Migration, Migrations, version
from dockyard.state.store import MIGRATIONS as STATE
from tests.state_legacy import SCHEMA, legacy_database

EVERY = [STATE, PIPELINE, SERVER, SCALE, BACKUP, NOTIFY, JOBS]

# What a database of the old list at user_version N already has of each package: the baseline,
# written out (each package's migrations say it with their `legacy`; this checks what they say).
BASELINE = {
    # N: state, pipeline, server, scale, backup, notify, jobs
    0: (0, 0, 0, 0, 0, 0, 0),
    1: (1, 0, 0, 0, 0, 0, 0),
    2: (1, 1, 1, 0, 0, 0, 0),
    3: (1, 1, 1, 1, 0, 0, 0),
    4: (2, 2, 2, 1, 0, 0, 0),
    5: (2, 2, 2, 1, 1, 0, 0),
    6: (2, 2, 3, 1, 1, 0, 0),
    7: (2, 2, 3, 1, 1, 1, 0),
    8: (2, 2, 4, 1, 1, 1, 0),
    9: (2, 2, 5, 1, 1, 1, 0),
    10: (2, 3, 5, 1, 1, 1, 0),
}


def open_every(path: Path) -> StateDB:
    db = StateDB(path)
    for migrations in EVERY:
        db.ensure(migrations)
    return db


# Tables and indexes made since the old list (in a fresh database and in an old one taken up alike).
SINCE = ("events", "events_kind", "sqlite_autoindex_events_1", "events_at", "outbox_created", "task_runs",
         "release_tasks_release", "task_runs_kind", "job_apps",
         "job_marks", "sqlite_autoindex_job_marks_1", "sqlite_autoindex_job_apps_1")


def schema(conn: sqlite3.Connection | StateDB, since: bool = True) -> dict[str, str]:
    """name -> SQL of every table and index, whitespace made single (a table's order is not kept);
    without those made since the old list when `since` is False."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name != 'schema_versions'")
    return {name: re.sub(r"\s+", " ", sql) for name, sql in rows if since or name not in SINCE}


def test_the_baseline_of_every_old_version() -> None:
    for user_version, expected in BASELINE.items():
        assert tuple(m.baseline(user_version) for m in EVERY) == expected, user_version
    # the old list's 10 versions, cut where packages meet; + the events table, + the events' age indexes,
    # + the release tasks, + their table for every one-off (hooks, jobs), + the jobs' apps and marks
    assert sum(len(m.steps) for m in EVERY) == 18


def test_a_fresh_database_has_the_tables_of_the_old_list(tmp_path: Path) -> None:
    old = legacy_database(tmp_path / "old.db", len(SCHEMA))
    db = open_every(tmp_path / "state.db")
    assert schema(db.conn, since=False) == schema(old)
    exact = ("SELECT name, sql FROM sqlite_master WHERE name NOT LIKE '%schema_versions%'"
             f" AND name NOT IN {SINCE} ORDER BY name")
    assert db.conn.execute(exact).fetchall() == old.execute(exact).fetchall()  # to the last space
    assert {m.package: version(db.conn, m) for m in EVERY} == {m.package: len(m.steps) for m in EVERY}
    db.close()
    old.close()


def fill(conn: sqlite3.Connection, at: int) -> None:
    """A row in each table the old list had at user_version `at`."""
    conn.execute("INSERT INTO builds VALUES ('shop', 'abc', 'v1', 'sha256:1', 'main', 0, 1.0)")
    conn.execute("INSERT INTO pushes VALUES ('shop', 'v1', 'reg', 'reg/shop', 'sha256:d', 1.0)")
    conn.execute("INSERT INTO releases (app, env, release_id, image, commit_sha, config_revision, status,"
                 " created_at, author) VALUES ('shop', 'prod', 'r1', 'img', 'abc', 1, 'live', 1.0, 'alice')")
    if at >= 2:
        conn.execute("INSERT INTO apps VALUES ('shop', '/srv/shop.git', 'dockyard.yml', 1.0)")
        conn.execute("INSERT INTO runs (app, commit_sha, branch, trigger, status, created_at) VALUES"
                     " ('shop', 'abc', 'main', 'hook', 'succeeded', 1.0)")
        output = ", output" if at < 10 else ""
        conn.execute(f"INSERT INTO steps (run_id, idx, kind, name, status{output}) VALUES"
                     f" (1, 0, 'build', 'build image', 'succeeded'{', ' + repr('built') if output else ''})")
        conn.execute("INSERT INTO tokens (name, sha256, created_at) VALUES ('ci', ?, 1.0)", ("a" * 64,))
        conn.execute("INSERT INTO polled VALUES ('shop', 'main', 'abc')")
    if at >= 3:
        conn.execute("INSERT INTO scale_apps VALUES ('shop', '/srv/dockyard.yml', 1.0)")
        conn.execute("INSERT INTO scale_overrides VALUES ('shop', 'prod', 'web', 3, 1.0, 'alice')")
    if at >= 4:
        conn.execute("INSERT INTO deliveries VALUES ('github', 'd1', 1.0)")
        conn.execute("INSERT INTO audit_head VALUES (1, 1, 'h')")
    if at >= 5:
        conn.execute("INSERT INTO backup_apps VALUES ('shop', '/srv/dockyard.yml', 1.0)")
    if at >= 7:
        conn.execute("INSERT INTO outbox (key, channel, event, app, env, text, payload, created_at, next_at)"
                     " VALUES ('e1/hook', 'hook', 'run.failed', 'shop', 'prod', 'failed', '{}', 1.0, 1.0)")
    if at >= 8:
        conn.execute("INSERT INTO webhook_pushes (app, branch, commit_sha, provider, delivery, received_at)"
                     " VALUES ('shop', 'main', 'abc', 'github', 'd1', 1.0)")


@pytest.mark.parametrize("at", [1, 2, 4, 7, 9, 10])
def test_a_database_of_the_old_list_is_taken_up_where_it_is(tmp_path: Path, at: int) -> None:
    from dockyard.backup.store import ScheduleStore
    from dockyard.notify.store import Events, Outbox
    from dockyard.pipeline.store import RunStore
    from dockyard.scale.store import ScaleStore
    from dockyard.server.auth import TokenStore
    from dockyard.server.store import Deliveries, PollMarks

    path = tmp_path / "state.db"
    conn = legacy_database(path, at)
    fill(conn, at)
    conn.close()
    fresh = open_every(tmp_path / "new.db")

    db = open_every(path)
    assert schema(db.conn) == schema(fresh.conn)  # every table and every new column
    assert db.conn.execute("PRAGMA user_version").fetchone()[0] == at  # the old mark stays as it was
    assert db.build("shop", "v1") is not None and db.pushes("shop", "v1") == {"reg": ("reg/shop", "sha256:d")}
    assert [r.release_id for r in db.releases("shop", "prod")] == ["r1"]
    runs = RunStore(db)
    if at >= 2:
        assert [a.name for a in runs.apps()] == ["shop"]
        assert runs.run(1).started_by == "" and runs.steps(1)[0].status == "succeeded"
        if at < 10:
            assert runs.steps(1)[0].output == "built"  # the old column's text, moved to step_output
        tokens = TokenStore(db).all()
        assert [(t.name, t.scopes, t.apps) for t in tokens] == [("ci", ("admin",), ())]
        assert PollMarks(db).last_seen("shop", "main") == "abc"
    if at >= 3:
        override = ScaleStore(db).override("shop", "prod", "web")
        assert override is not None and override.replicas == 3
        assert ScaleStore(db).apps() == [("shop", "/srv/dockyard.yml")]
    if at >= 4:
        assert not Deliveries(db).receive("github", "d1")  # received before
    if at >= 5:
        assert ScheduleStore(db).apps() == [("shop", "/srv/dockyard.yml")]
    if at >= 7:
        assert [d.key for d in Outbox(db).recent()] == ["e1/hook"]
        [old] = Events(db).recent(("run.failed",))  # its event, in the events the outbox delivers
        assert (old.event.id, old.event.app, old.event.text, old.event.at) == ("e1", "shop", "failed", 1.0)
    if at >= 8:
        assert Deliveries(db).last_push("shop", "main") == ("abc", "d1")
    db.close()

    again = open_every(path)  # now by its own versions: nothing to do
    assert {m.package: version(again.conn, m) for m in EVERY} == {m.package: len(m.steps) for m in EVERY}
    again.close()
    fresh.close()


def test_a_new_database_opened_by_many_at_once_is_made_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    start = threading.Barrier(8)
    failures: list[BaseException] = []
    opened: list[StateDB] = []

    def open_it() -> None:
        start.wait()
        try:
            opened.append(open_every(path))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            failures.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, [str(f) for f in failures]
    assert len(opened) == 8
    assert {m.package: version(opened[0].conn, m) for m in EVERY} == {m.package: len(m.steps) for m in EVERY}
    for db in opened:  # no connection is left inside a transaction: each of them can write at once
        assert not db.conn.in_transaction
    with opened[-1].conn:
        opened[-1].conn.execute("BEGIN IMMEDIATE")
    for db in opened:
        db.close()


def test_a_package_migration_added_later_runs_once_and_a_failed_one_leaves_nothing(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "state.db")
    first = Migrations("extra", [Migration("CREATE TABLE extra (a INTEGER);")])
    db.ensure(first)
    db.conn.execute("INSERT INTO extra VALUES (1)")
    more = Migrations("extra", [*first.steps, Migration("ALTER TABLE extra ADD COLUMN b TEXT NOT NULL DEFAULT 'x';")])
    db.conn.ensured.clear()  # as a newer release's process would find it
    db.ensure(more)
    assert db.conn.execute("SELECT a, b FROM extra").fetchall() == [(1, "x")]
    broken = Migrations("extra", [*more.steps, Migration("CREATE TABLE late (a); CREATE TABLE extra (a);")])
    db.conn.ensured.clear()
    with pytest.raises(Exception, match="already exists"):
        db.ensure(broken)
    assert version(db.conn, broken) == 2 and not db.conn.in_transaction
    assert db.conn.execute("SELECT 1 FROM sqlite_master WHERE name='late'").fetchone() is None
    db.close()


def test_the_old_migrations_come_first() -> None:
    with pytest.raises(ValueError, match="come first"):
        Migrations("bad", [Migration("CREATE TABLE a (x);"), Migration("CREATE TABLE b (x);", legacy=3)])

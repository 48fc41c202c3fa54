"""A step's output: appending adds rows and rewrites none (linear however loud a build is), the last
5 MiB are kept with a note of what was cut, followers see each line once, the full log beside."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from dockyard.pipeline.model import StepDef
from dockyard.pipeline.output import CHUNK, KEEP, pieces
from dockyard.pipeline.steplog import FLUSH_EVERY, StepLog
from dockyard.pipeline.store import RunStore
from dockyard.state.db import StateDB
from tests.state_legacy import legacy_database

LINES = 300_000


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(StateDB(tmp_path / "state.db"))


def new_run(store: RunStore) -> int:
    run_id = store.create_run("shop", "a" * 40, "main", "hook", [StepDef("build", "", "build image")], supersede=True)
    store.start_step(run_id, 0)
    return run_id


def line(n: int) -> str:
    return f"12:00:00 Step 2/2 : RUN seq | sed: line {n:06d}\n"  # 44 bytes: 300,000 of them pass 5 MiB


def rows(store: RunStore, run_id: int) -> list[tuple[int, int, str]]:
    return store.conn.execute("SELECT start, size, text FROM step_output WHERE run_id=? ORDER BY start",
                              (run_id,)).fetchall()


def test_appending_300000_lines_adds_rows_and_never_rewrites_one(store: RunStore) -> None:
    run_id = new_run(store)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    with store.conn:  # one transaction: the mechanism, not the disk's fsyncs
        store.conn.execute("BEGIN IMMEDIATE")
        for batch in range(LINES // 100 // 2):  # 1,500 appends of 100 lines
            store.output.append(run_id, 0, "".join(line(n) for n in range(batch * 100, batch * 100 + 100)))
    half = rows(store, run_id)
    with store.conn:
        store.conn.execute("BEGIN IMMEDIATE")
        for batch in range(LINES // 100 // 2, LINES // 100):
            store.output.append(run_id, 0, "".join(line(n) for n in range(batch * 100, batch * 100 + 100)))
    store.conn.set_trace_callback(None)
    after = rows(store, run_id)

    # Nothing written before is ever written again: rows are added, and whole old ones deleted.
    writes = [s for s in statements if s.split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
    assert not [s for s in writes if "||" in s or s.upper().startswith("UPDATE STEP_OUTPUT")]
    assert sum(1 for s in writes if s.upper().startswith("INSERT INTO STEP_OUTPUT")) == LINES // 100
    assert all(row in half for row in after if row[0] < half[-1][0])  # the older rows still kept, untouched
    # The rows follow each other, the last ends where the step's output ends, and they hold about KEEP.
    assert all(a[0] + a[1] == b[0] for a, b in zip(after, after[1:], strict=False))
    step = store.steps(run_id, output=False)[0]
    total = sum(len(line(n)) for n in range(LINES))
    assert total > KEEP and step.printed == total and step.lines == LINES
    assert after[-1][0] + after[-1][1] == total
    assert KEEP <= sum(r[1] for r in after) < KEEP + CHUNK


def test_the_last_5_mib_are_kept_from_a_line_start_after_a_note_of_the_cut(store: RunStore) -> None:
    run_id = new_run(store)
    everything = "".join(line(n) for n in range(LINES))
    with store.conn:
        store.conn.execute("BEGIN IMMEDIATE")
        for part in pieces(everything, 10_000):
            store.output.append(run_id, 0, part)
    output = store.steps(run_id)[0].output
    note, kept = output.split("\n", 1)
    assert len(kept.encode()) <= KEEP and len(kept.encode()) > KEEP - len(line(0))
    assert everything.endswith(kept) and kept.startswith("12:00:00 Step")
    cut = len(everything.encode()) - len(kept.encode())
    assert note == (f"[... {cut} bytes cut: the step printed {len(everything)} bytes and the last 5 MiB are kept;"
                    f" the full log: dockyard pipeline logs {run_id} --full]")
    # the full log has it all, private to its owner
    log = store.output.full_log(run_id, 0)
    assert log is not None and log.read_text() == everything == store.full_log(run_id, 0)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_a_follower_sees_each_line_once_in_order_and_a_note_when_it_fell_behind(store: RunStore) -> None:
    run_id = new_run(store)
    seen, offset = [], 0
    for n in range(500):
        store.append_output(run_id, 0, line(n).rstrip("\n"))  # a line is ended for it
        if n % 7 == 0:
            piece = store.output_since(run_id, 0, offset)
            seen.append(piece.text)
            offset = piece.end
    seen.append(store.output_since(run_id, 0, offset).text)
    assert "".join(seen) == "".join(line(n) for n in range(500))
    assert store.output_since(run_id, 0, store.steps(run_id)[0].printed).text == ""

    behind = store.steps(run_id)[0].printed  # a reader that looks again only after 5 MiB more
    with store.conn:
        store.conn.execute("BEGIN IMMEDIATE")
        store.output.append(run_id, 0, "".join(line(n) for n in range(500, 500 + KEEP // len(line(0)) + 10)))
    piece = store.output_since(run_id, 0, behind)
    assert piece.text.startswith("[... ") and "bytes cut" in piece.text.splitlines()[0]
    assert piece.end == store.steps(run_id)[0].printed


def test_step_output_is_the_same_read_any_way(store: RunStore) -> None:
    """steps() gives the output and where it ends together: a page that shows it streams from there."""
    run_id = new_run(store)
    store.append_output(run_id, 0, "one\ntwo")
    step = store.steps(run_id)[0]
    assert step.output == "one\ntwo\n" and step.printed == 8 and step.lines == 2
    assert store.run_json(run_id)["steps"][0]["output_lines"] == 2
    assert store.run_json(run_id, output=True)["steps"][0]["output"] == "one\ntwo\n"


def test_full_logs_go_some_days_after_their_run(store: RunStore) -> None:
    old, recent = new_run(store), new_run(store)
    for run_id in (old, recent):
        store.append_output(run_id, 0, "built")
        store.finish_run(run_id, "succeeded")
    store.conn.execute("UPDATE runs SET ended_at = ? WHERE id=?", (time.time() - 15 * 86400, old))
    assert store.output.prune(days=14) == [old]
    assert store.output.full_log(old, 0) is None and store.output.full_log(recent, 0) is not None
    assert store.full_log(old, 0) == "built\n"  # what the run keeps


def test_a_database_of_the_old_shape_keeps_its_output(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = legacy_database(path, 7)
    conn.execute("INSERT INTO runs (app, commit_sha, branch, trigger, status, created_at) VALUES"
                 " ('shop', 'abc', 'main', 'hook', 'succeeded', 1.0)")
    conn.execute("INSERT INTO steps (run_id, idx, kind, name, status, output) VALUES"
                 " (1, 0, 'build', 'build image', 'succeeded', 'héllo\nworld\n')")
    conn.close()
    store = RunStore(StateDB(path))
    step = store.steps(1)[0]
    assert step.output == "héllo\nworld\n" and step.printed == len("héllo\nworld\n".encode()) and step.lines == 2
    store.append_output(1, 0, "more")
    assert store.steps(1)[0].output == "héllo\nworld\nmore\n"


def test_the_runner_writes_a_loud_step_in_few_transactions(store: RunStore) -> None:
    run_id = new_run(store)
    out = StepLog(store.db.path, run_id)
    try:
        for n in range(20_000):
            out.write(0, line(n).rstrip("\n"))
        deadline = time.monotonic() + 5  # written by its own thread, FLUSH_EVERY after
        while store.steps(run_id, output=False)[0].printed < 20_000 * len(line(0)) and time.monotonic() < deadline:
            time.sleep(FLUSH_EVERY)
    finally:
        out.close()
    assert store.steps(run_id)[0].output == "".join(line(n) for n in range(20_000))
    chunks = store.conn.execute("SELECT COUNT(*) FROM step_output WHERE run_id=?", (run_id,)).fetchone()[0]
    assert chunks < 200  # batches of about CHUNK characters, not a row (and a transaction) per line

"""Containers with more lines than a turn takes are read turn after turn until every line is in: one
that waits for its turn (the turn's bytes went to the others) is busy, not idle, however long it
waits (it was taken for idle after `idle_after` and read only every `idle_read_interval`, with a
gather's wait between: at 1 KiB lines the bench's last container waited ~0.5 s). Counted, not timed
closely: the gather here is far longer than reading every line takes."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from dockyard.logs.forwarder import Forwarder, ForwarderConfig

CONTAINERS = 6
LINES = 400


def container(root: Path, n: int) -> None:
    cid = f"{n:064x}"
    folder = root / cid
    folder.mkdir(parents=True)
    (folder / "config.v2.json").write_text(json.dumps({
        "ID": cid, "Name": f"/writer-{n}", "State": {"Running": False, "Pid": 0, "Status": "exited"},
        "Config": {"Image": "busybox", "Labels": {"dockyard.test": "turns"}}}))
    stamp = "2026-12-07T02:00:00.000000001Z"
    (folder / f"{cid}-json.log").write_text("".join(
        json.dumps({"log": f"w{n} {i} {'x' * 200}\n", "stream": "stdout", "time": stamp}) + "\n" for i in range(LINES)))


def test_containers_waiting_for_their_turn_are_read_without_a_gather_between(tmp_path: Path) -> None:
    for n in range(CONTAINERS):
        container(tmp_path / "containers", n)
    forwarder = Forwarder(ForwarderConfig(containers_root=tmp_path / "containers", state_dir=tmp_path / "state",
                                          docker_host=None, selectors={"dockyard.test": "turns"}, host="h",
                                          turn_bytes=32 << 10, idle_after=0.0, idle_read_interval=30.0, gather=30.0))
    forwarder.start()
    try:
        deadline = time.monotonic() + 20
        while forwarder.metrics.snapshot().get("lines_read", 0) < CONTAINERS * LINES and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        forwarder.stop()
    assert forwarder.metrics.snapshot().get("lines_read") == CONTAINERS * LINES
    db = sqlite3.connect(tmp_path / "state" / "store.db")
    try:
        rows = db.execute("select msg from lines").fetchall()
    finally:
        db.close()
    assert sorted(msg for (msg,) in rows) == sorted(f"w{n} {i} {'x' * 200}" for n in range(CONTAINERS)
                                                    for i in range(LINES))

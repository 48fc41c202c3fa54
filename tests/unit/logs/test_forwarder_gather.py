"""A trickle of lines from many containers is taken in a few turns, not a turn (and a store commit)
per line (issue 30: the agent under 1 % of a core with 50 containers writing a few lines a second).
Counted in turns, not timed; every line still arrives, once."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from dockyard.logs.forwarder import Forwarder, ForwarderConfig

CONTAINERS = 10
LINES = 200  # one every 5 ms: 1 s of a trickle spread over every container


def container(root: Path, n: int) -> Path:
    cid = f"{n:064x}"
    folder = root / cid
    folder.mkdir(parents=True)
    (folder / "config.v2.json").write_text(json.dumps({
        "ID": cid, "Name": f"/web-{n}", "State": {"Running": True, "Pid": 1, "Status": "running"},
        "Config": {"Image": "busybox", "Labels": {"dockyard.test": "gather", "dockyard.app": "shop"}}}))
    return folder / f"{cid}-json.log"


def test_a_trickle_is_taken_in_gathered_turns_and_every_line_arrives(tmp_path: Path) -> None:
    logs = [container(tmp_path / "containers", n) for n in range(CONTAINERS)]
    for path in logs:
        path.write_text("")
    forwarder = Forwarder(ForwarderConfig(containers_root=tmp_path / "containers", state_dir=tmp_path / "state",
                                          docker_host=None, selectors={"dockyard.test": "gather"}, host="h",
                                          gather=0.25))
    turns: list[int] = []
    append = forwarder.journal.append

    def counted(appends):  # type: ignore[no-untyped-def]
        turns.append(sum(len(a.batch.lines) for a in appends))
        return append(appends)

    forwarder.journal.append = counted  # type: ignore[method-assign]
    forwarder.start()
    try:
        time.sleep(0.3)  # its first scan found the containers

        def write() -> None:
            for i in range(LINES):
                with logs[i % CONTAINERS].open("a") as out:
                    out.write(json.dumps({"log": f"line {i}\n", "stream": "stdout",
                                          "time": "2026-12-07T02:00:00.000000000Z"}) + "\n")
                time.sleep(0.005)

        writer = threading.Thread(target=write)
        started = time.monotonic()
        writer.start()
        writer.join()
        deadline = time.monotonic() + 20
        while forwarder.metrics.snapshot().get("lines_read", 0) < LINES and time.monotonic() < deadline:
            time.sleep(0.05)
        took = time.monotonic() - started
    finally:
        forwarder.stop()
    assert forwarder.metrics.snapshot().get("lines_read") == LINES
    assert sum(turns) == LINES
    # about one turn per gather while lines come; without gathering it was one turn per line or two
    assert len([t for t in turns if t]) <= took / 0.25 + 3, turns

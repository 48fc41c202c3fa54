"""The forwarder's store is indexed lazily: lines are stored first, and the full-text index is built
once the reader has caught up with the files (or past INDEX_LAG); a search finds the lines meanwhile."""

from __future__ import annotations

import json
import time
from pathlib import Path

from dockyard.logs.forwarder import Forwarder, ForwarderConfig
from dockyard.logs.query import Query, search
from dockyard.logs.store import LogStore
from tests.unit.logs.test_forwarder_gather import container

LINES = 5000


def test_lines_are_stored_then_indexed_while_the_reader_waits(tmp_path: Path) -> None:
    log = container(tmp_path / "containers", 1)
    with log.open("w") as out:
        for i in range(LINES):
            out.write(json.dumps({"log": f"line {i} {'needle' if i == 4321 else 'hay'}\n", "stream": "stdout",
                                  "time": f"2026-12-07T02:00:{i % 60:02d}.5Z"}) + "\n")
    forwarder = Forwarder(ForwarderConfig(containers_root=tmp_path / "containers", state_dir=tmp_path / "state",
                                          docker_host=None, selectors={"dockyard.test": "gather"}, host="h",
                                          index_step=4096))
    indexed: list[int] = []
    index = forwarder.journal.index  # type: ignore[union-attr]

    def counted(budget: int) -> int:
        indexed.append(budget)
        return index(budget)

    forwarder.journal.index = counted  # type: ignore[union-attr]
    assert forwarder.journal.store.lazy_index  # type: ignore[union-attr]
    forwarder.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (forwarder.metrics.snapshot().get("lines_read", 0) < LINES
                                               or forwarder.index_lag):
            time.sleep(0.05)
    finally:
        forwarder.stop()
    assert forwarder.metrics.snapshot().get("lines_read") == LINES and forwarder.index_lag == 0
    assert len(indexed) > 1 and set(indexed) == {4096}  # in steps, between reads
    store = LogStore(tmp_path / "state" / "store.db", readonly=True)
    assert store.db.execute("select upto = (select max(id) from blocks) from indexed").fetchone() == (1,)
    assert [line.message for line in search(store, Query(grep="needle"))] == ["line 4321 needle"]

"""`dockyard forwarder status`: read the spool and the store (also while the forwarder runs).

In direct mode (the store the only sink) the read positions and the loss record are in the store;
otherwise in the spool. Both are read, so a state folder that switched modes reports everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dockyard.errors import NotFound
from dockyard.logs.spool import read_status as read_spool
from dockyard.logs.store import read_journal


def read_status(state_dir: Path) -> dict[str, Any]:
    spool, store = read_spool(state_dir / "spool.db"), read_journal(state_dir / "store.db")
    if spool is None and store is None:
        raise NotFound(f"no forwarder state in {state_dir}", hint="start it: dockyard forwarder run")
    report: dict[str, Any] = {"spool": {"batches": 0, "bytes": 0, "lines": 0}, "acks": {}, "positions": 0,
                              "losses": [], "rejects": [], "direct": False}
    if spool is not None:
        report.update(spool)
    if store is not None:
        positions, losses = store
        report["direct"] = positions > 0 or spool is None
        report["positions"] += positions
        report["losses"] = sorted(report["losses"] + losses, key=lambda loss: loss["at"])
    return report

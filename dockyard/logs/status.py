"""`dockyard forwarder status`: read the spool and the store (also while the forwarder runs).

In direct mode (the store the only sink) the read positions and the loss record are in the store;
otherwise in the spool. Both are read, so a state folder that switched modes reports everything.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from dockyard.errors import NotFound


def _open(path: Path) -> sqlite3.Connection | None:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) if path.exists() else None


def _positions_and_losses(db: sqlite3.Connection) -> tuple[int, list[dict[str, Any]]]:
    try:
        positions = db.execute("select count(*) from positions").fetchone()[0]
        losses = [{"at": a, "container_id": c, "what": w, "bytes": b}
                  for a, c, w, b in db.execute("select at, cid, what, bytes from losses order by id")]
    except sqlite3.OperationalError:  # a store written before direct mode existed
        return 0, []
    return positions, losses


def read_status(state_dir: Path) -> dict[str, Any]:
    spool_db, store_db = _open(state_dir / "spool.db"), _open(state_dir / "store.db")
    if spool_db is None and store_db is None:
        raise NotFound(f"no forwarder state in {state_dir}", hint="start it: dockyard forwarder run")
    report: dict[str, Any] = {"spool": {"batches": 0, "bytes": 0, "lines": 0}, "acks": {}, "positions": 0,
                              "losses": [], "rejects": [], "direct": False}
    try:
        if spool_db is not None:
            batches, size, lines = spool_db.execute("select count(*), coalesce(sum(bytes), 0), "
                                                    "coalesce(sum(lines), 0) from spool").fetchone()
            report["spool"] = {"batches": batches, "bytes": size, "lines": lines}
            report["acks"] = dict(spool_db.execute("select sink, id from acks").fetchall())
            report["positions"], report["losses"] = _positions_and_losses(spool_db)
            report["rejects"] = [
                {"at": a, "sink": s, "container_id": c, "lines": n, "reason": r}
                for a, s, c, n, r in spool_db.execute("select at, sink, cid, lines, reason from rejects order by id")]
        if store_db is not None:
            positions, losses = _positions_and_losses(store_db)
            report["direct"] = positions > 0 or spool_db is None
            report["positions"] += positions
            report["losses"] = sorted(report["losses"] + losses, key=lambda loss: loss["at"])
    finally:
        for db in (spool_db, store_db):
            if db is not None:
                db.close()
    return report

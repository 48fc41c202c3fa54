"""`dockyard forwarder status`: read the spool database (also while the forwarder runs)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from dockyard.errors import NotFound


def read_status(state_dir: Path) -> dict[str, Any]:
    path = state_dir / "spool.db"
    if not path.exists():
        raise NotFound(f"no forwarder state in {state_dir}", hint="start it: dockyard forwarder run")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        batches, size, lines = db.execute("select count(*), coalesce(sum(bytes), 0), coalesce(sum(lines), 0) "
                                          "from spool").fetchone()
        acks = dict(db.execute("select sink, id from acks").fetchall())
        positions = db.execute("select count(*) from positions").fetchone()[0]
        losses = [{"at": a, "container_id": c, "what": w, "bytes": b}
                  for a, c, w, b in db.execute("select at, cid, what, bytes from losses order by id")]
        rejects = [{"at": a, "sink": s, "container_id": c, "lines": n, "reason": r}
                   for a, s, c, n, r in db.execute("select at, sink, cid, lines, reason from rejects order by id")]
    finally:
        db.close()
    return {"spool": {"batches": batches, "bytes": size, "lines": lines}, "acks": acks,
            "positions": positions, "losses": losses, "rejects": rejects}

"""One environment's requests at the edge as they are written (logs/edge_window.py): read from where
the last look left off, a half-written line kept for the next look, a file the forwarder deleted
still read to its end, a file last written before the span read from its end only."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from dockyard.logs.edge_window import EdgeTraffic


def line(t: float, status: int = 200, track: str = "canary", app: str = "shop", env: str = "prod") -> str:
    return json.dumps({"t": round(t, 3), "app": app, "env": env, "status": status, "ut": 4, "rt": 5,
                       "track": track}) + "\n"


def test_new_requests_of_one_environment_each_once(tmp_path: Path) -> None:
    now = time.time()
    old = tmp_path / "access-00000000000000000001.log"
    old.write_text(line(now - 100) * 3)  # written before the span: skipped whole
    os.utime(old, (now - 100, now - 100))
    traffic = EdgeTraffic(tmp_path, "shop", "prod", since=now - 10)
    assert traffic.take() == []
    with old.open("a") as f:
        f.write(line(now, 500) + line(now, track="stable") + line(now, app="blog") + line(now, track="-"))
        f.write(line(now)[:20])  # half a line: the rest comes later
    got = traffic.take()
    assert [(e.status, e.track) for e in got] == [(500, "canary"), (200, "stable")]
    new = tmp_path / "access-00000000000000000002.log"
    new.write_text(line(now, 503))
    with old.open("a") as f:
        f.write(line(now)[20:])
    assert sorted(e.status for e in traffic.take()) == [200, 503]
    with old.open("a") as f:
        f.write(line(now, 502))
    old.unlink()  # the forwarder shipped it: what was written before is still read, then it is let go
    assert [e.status for e in traffic.take()] == [502]
    assert list(traffic.files) == [new.name]
    assert traffic.take() == []
    traffic.close()


def test_every_request_where_not_tracked(tmp_path: Path) -> None:
    now = time.time()
    (tmp_path / "access-00000000000000000001.log").write_text(line(now, track="-") + line(now - 60))
    traffic = EdgeTraffic(tmp_path, "shop", "prod", since=now - 30, tracked=False)
    assert [e.track for e in traffic.take()] == [""]  # the one before `since` is not of the span
    traffic.close()

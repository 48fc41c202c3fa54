"""Which replica troubleshooting goes to (issue 27): the live release's, where traffic goes; an
asked colour or replica that is not there is an error, never another replica."""
from __future__ import annotations

import pytest

from dockyard.engine.rows import Running, pick_replica
from dockyard.errors import NotFound


def row(color: str, n: int, release: str, running: bool = True, service: str = "web") -> Running:
    return Running(id=f"{color}{n}", name=f"shop-production-{service}-{color}-{n}", service=service, replica=n,
                   config_hash="h", release=release, running=running, color=color)


# blue stands by with r1 (sorted first by name), green is live with r2
ROWS = [row("blue", 1, "r1"), row("blue", 2, "r1"), row("green", 1, "r2"), row("green", 2, "r2"),
        row("green", 1, "r2", service="worker")]


def pick(**kwargs: object) -> str:
    args = {"live_release": "r2", "color": None, "replica": None, **kwargs}
    return pick_replica(ROWS, "shop/production", "web", args["live_release"], args["color"],  # type: ignore[arg-type]
                        args["replica"]).name  # type: ignore[arg-type]


def test_the_live_release_by_default_not_the_colour_standing_by() -> None:
    assert pick() == "shop-production-web-green-1"
    assert pick(replica=2) == "shop-production-web-green-2"


def test_another_colour_when_asked() -> None:
    assert pick(color="blue") == "shop-production-web-blue-1"
    assert pick(color="blue", replica=2) == "shop-production-web-blue-2"


def test_a_replica_that_does_not_exist_is_an_error() -> None:
    with pytest.raises(NotFound, match=r"shop/production/web has no running replica 5 \(running: 1, 2\)"):
        pick(replica=5)
    with pytest.raises(NotFound, match="no running web replica on red"):
        pick(color="red")


def test_without_a_live_release_the_first_running_one() -> None:
    assert pick(live_release=None) == "shop-production-web-blue-1"
    with pytest.raises(NotFound, match="no running container of shop/production/db"):
        pick_replica(ROWS, "shop/production", "db", None)


def test_logs_and_stats_show_the_live_release_unless_told_otherwise() -> None:
    from dockyard.engine.rows import troubleshoot_scope

    def scope(**kwargs: object):  # type: ignore[no-untyped-def]
        args = {"service": None, "live_release": "r2", **kwargs}
        return troubleshoot_scope(ROWS, "shop/production", **args)  # type: ignore[arg-type]

    live = scope()
    assert (live.release, live.names, live.said) == ("r2", None, "release r2 (live)")
    assert live.admits("r2", "gone-container") and not live.admits("r1", "shop-production-web-blue-1")
    assert scope(release="r1").release == "r1" and scope(release="all").release is None
    assert scope(live_release=None).said == "every release"  # never deployed through this state: no limit
    blue = scope(color="blue")
    assert blue.names == {"shop-production-web-blue-1", "shop-production-web-blue-2"} and blue.release is None
    assert scope(service="web", replica=2).names == {"shop-production-web-green-2"}
    assert scope(service="web", color="blue", replica=1).names == {"shop-production-web-blue-1"}
    stopped = [*ROWS, row("blue", 1, "r1", running=False, service="worker")]  # a parked worker still has logs
    assert troubleshoot_scope(stopped, "shop/production", "worker", "r2", color="blue").names == {
        "shop-production-worker-blue-1"}
    with pytest.raises(NotFound, match=r"shop/production/web has no replica 7 \(replicas: 1, 2\)"):
        scope(service="web", replica=7)
    with pytest.raises(NotFound, match="no worker replica on blue in shop/production"):
        scope(service="worker", color="blue")

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

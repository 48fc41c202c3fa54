"""Which replica a release's endpoint tests reach (issue 27): one of that release, never another that
runs; on this host's 127.0.0.1 first (a Swarm task may publish on another node)."""
from __future__ import annotations

from dockyard.deploy.verify import release_url
from dockyard.engine.rows import Running


def row(release: str, url: str | None, running: bool = True, service: str = "web") -> Running:
    return Running(id=url or "x", name="n", service=service, replica=1, config_hash="h", release=release,
                   running=running, url=url)


def test_the_new_release_not_the_old_one_and_this_host_first() -> None:
    rows = [row("old", "http://127.0.0.1:1000"), row("new", "http://10.0.0.2:2000"),
            row("new", "http://127.0.0.1:3000", running=False), row("new", "http://127.0.0.1:4000"),
            row("new", None, service="worker")]
    assert release_url(rows, "new", "web") == "http://127.0.0.1:4000"
    assert release_url(rows[:2], "new", "web") == "http://10.0.0.2:2000"  # the only one there is
    assert release_url(rows, "gone", "web") is None

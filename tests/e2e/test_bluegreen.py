"""Blue/green under load: 10 releases in a row, one failing health, one failing its smoke test, and
a rollback, while 4 clients keep requesting the live port. Every request is counted: none may fail,
none may be non-2xx, none may be answered by a release that failed its checks."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.conftest import run_cli
from tests.integration.bluegreen.helpers import cleanup, make_bg_app
from tests.integration.bluegreen.load import Load, failures, non_2xx

pytestmark = pytest.mark.e2e


def ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def bg(tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient,
       monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    app, live, preview = make_bg_app(tmp_path)
    monkeypatch.chdir(app.path)
    try:
        yield app, live, preview
    finally:
        cleanup(docker_client, app, dockyard_env)


def test_ten_releases_a_bad_health_a_bad_smoke_and_a_rollback_under_load(bg) -> None:
    app, live, _ = bg
    started = time.monotonic()
    ok("build")
    ok("config", "set", "production", "GREETING=v1")
    ok("deploy", "production")
    load = Load(f"http://127.0.0.1:{live}/cgi-bin/release", threads=4, max_seconds=150).start()
    try:
        for n in range(2, 11):
            if n in (4, 8):  # a new commit: a new image
                app.write("www/index.html", f"v{n}\n")
                app.commit(f"v{n}")
                ok("build")
            else:  # a configuration change: a new release of the same image
                ok("config", "set", "production", f"GREETING=v{n}")
            ok("deploy", "production")
            if n == 5:  # a release whose health check fails
                (app.path / "www/health").unlink()
                app.commit("no health")
                ok("build")
                assert run_cli("deploy", "production").returncode == 1
                app.write("www/health", "ok\n")
                app.commit("health back")
                ok("build")
            if n == 7:  # a release whose smoke test fails through the preview listener
                (app.path / "www/smoke").unlink()
                app.commit("no smoke")
                ok("build")
                assert run_cli("deploy", "production").returncode == 1
                app.write("www/smoke", "ok\n")
                app.commit("smoke back")
                ok("build")
        rolled = ok("rollback", "production")
        assert "no container was started" in rolled
        time.sleep(0.5)
    finally:
        hits = load.stop()

    releases = json.loads(ok("releases", "production", "--json"))
    failed = {r["release_id"] for r in releases if r["status"] == "failed"}
    good = {r["release_id"] for r in releases if r["status"] != "failed"}
    assert len(failed) == 2 and len(good) == 10
    answered = Counter(h.body.split(" ")[0] for h in hits if h.status == 200)
    print(f"\n{len(hits)} requests in {time.monotonic() - started:.0f}s; answered by "
          f"{len(answered)} releases: {dict(answered)}")
    assert failures(hits) == [], failures(hits)[:5]
    assert non_2xx(hits) == [], non_2xx(hits)[:5]
    assert set(answered) <= good and not set(answered) & failed
    assert len(answered) >= 8  # the load really saw the releases go by
    assert len(hits) > 1000
    # The last request went to the release the rollback restored.
    assert hits[-1].body.split(" ")[0] == releases[0]["release_id"] and releases[0]["note"].startswith("rollback")

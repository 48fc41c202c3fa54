"""Blue/green with a worker beside the web service (issue 27), through the real CLI, engine and nginx,
under load: releases and rollbacks drop no request, the worker moves with its colour (stopped while
it stands by, started again by a rollback), its health command is run by the engine, the colour a
rollback returns to is never removed, and a rollback that cannot complete changes nothing."""

from __future__ import annotations

import docker
import pytest

from tests.conftest import run_cli
from tests.integration.bluegreen.load import Load, failures, non_2xx
from tests.integration.bluegreen.test_bluegreen_cli import bg_status, ok, served

pytestmark = pytest.mark.integration

WORKER = """\
  worker:
    command: [sh, -c, "while true; do sleep 1; done"]
    health: {command: [sh, -c, 'test -n "$DOCKYARD_RELEASE"'], interval: 200ms, timeout: 2s, start_period: 10s}
    stop_grace: 1s
config:"""


def states(client: docker.DockerClient, app: str) -> dict[str, tuple[str, str]]:
    """container name -> (status, release) of every replica of the app."""
    found = client.containers.list(all=True, filters={"label": [f"dockyard.app={app}", "dockyard.color"]})
    return {c.name: (c.status, c.labels["dockyard.release"]) for c in found}


def worker(app: str, color: str) -> str:
    return f"{app}_production_worker_{color}_1"


def test_releases_and_rollbacks_with_a_worker_under_load(bg_app, docker_client: docker.DockerClient) -> None:
    app, live, _preview = bg_app
    app.write("dockyard.yml", app.spec_file.read_text().replace("config:", WORKER, 1))
    app.commit("a worker")
    ok("build")
    ok("config", "set", "production", "GREETING=one")
    ok("deploy", "production")
    load = Load(f"http://127.0.0.1:{live}/cgi-bin/release", threads=4, max_seconds=150).start()
    try:
        releases = []
        for n in range(2, 7):  # 5 releases in all
            ok("config", "set", "production", f"GREETING=v{n}")
            out = ok("deploy", "production")
            status = bg_status()
            releases.append(status["live"]["release_id"])
            live_color, standby = status["live"]["color"], status["preview"]["color"]
            assert f"park     {standby}: its workers stop while it stands by" in out
            now = states(docker_client, app.name)
            assert now[worker(app.name, live_color)] == ("running", status["live"]["release_id"])
            # the standby colour's worker is stopped, not removed: a rollback starts it again
            assert now[worker(app.name, standby)][0] == "exited"
            if n in (3, 4, 6):  # 3 rollbacks, each a switch back to the colour standing by
                rolled = ok("rollback", "production")
                assert "its 1 parked worker(s) started again, no container was created" in rolled
                back = bg_status()
                assert back["live"]["color"] == standby and back["preview"]["color"] == live_color
                assert served(live).split()[1] == standby
                after = states(docker_client, app.name)
                assert after[worker(app.name, standby)][0] == "running"
                assert after[worker(app.name, live_color)][0] == "exited"
                # the colour rolled back from is still there, standing by
                assert {name for name in after if f"_{live_color}_" in name} == \
                    {name for name in now if f"_{live_color}_" in name}
    finally:
        hits = load.stop()
    assert hits and not failures(hits) and not non_2xx(hits), (failures(hits) + non_2xx(hits))[:5]
    assert len(set(releases)) == 5

    # The standby colour's web replica is frozen: a rollback to it cannot complete and changes nothing.
    status = bg_status()
    standby = status["preview"]["color"]
    frozen = docker_client.containers.get(f"{app.name}_production_web_{standby}_1")
    frozen.pause()
    try:
        before = states(docker_client, app.name)
        failed = run_cli("rollback", "production")
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert f"cannot roll {app.name}/production back" in failed.stderr
        assert "both colours are as they were" in failed.stderr and "Traceback" not in failed.stderr
        assert states(docker_client, app.name) == before
        assert bg_status()["live"] == status["live"]
    finally:
        frozen.unpause()

"""A pipeline run queues behind a lock taken by hand (issue 31): its deploy step waits, says for
whom, deploys nothing while it waits, and goes on once the lock is released."""

from __future__ import annotations

import time
from pathlib import Path

import docker
import pytest

from tests.integration.pipeline.test_fair_workers import PIPELINE, show, stop_detached_workers, trigger, wait
from tests.integration.server.conftest import Server, cleanup, prepare_app, site_env

pytestmark = pytest.mark.integration


def test_a_run_waits_for_a_lock_by_hand_then_deploys(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    site = Server(env=site_env(tmp_path), log=tmp_path / "server.log")
    served = prepare_app(tmp_path / "apps", site, {"replicas: 2": "replicas: 1"}, PIPELINE)
    app = served.app.name
    try:
        site.cli("lock", "acquire", "testing", "-m", "hold on", cwd=served.app.path)
        run_id = trigger(site, served)  # no server: a detached worker runs it
        deadline = time.monotonic() + 120
        while f"waiting for {app}/testing: held by tester (by hand)" not in site.cli(
                "pipeline", "logs", str(run_id)).stdout:
            run = show(site, run_id)
            assert run["status"] in ("queued", "running") and time.monotonic() < deadline, run
            time.sleep(0.3)
        time.sleep(1.0)
        assert show(site, run_id)["status"] == "running"  # waiting, not failed
        assert docker_client.containers.list(all=True, filters={"label": f"dockyard.app={app}"}) == []
        site.cli("lock", "release", "testing", cwd=served.app.path)
        done = wait(site, run_id, timeout=120)
        assert done["status"] == "succeeded", done
        assert docker_client.containers.list(filters={"label": f"dockyard.app={app}"})  # deployed once released
    finally:
        stop_detached_workers(site)
        cleanup(docker_client, app)

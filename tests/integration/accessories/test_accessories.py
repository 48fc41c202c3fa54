"""Accessories on the real engine (issue 16): a Redis built FROM scratch from Debian's package,
booted beside the app, reached by the app at `${accessories.db.host}`; deploys, a rollback and a
scale leave it running untouched; a kill -9 brings it back with its data; reboot keeps the data;
`down` removes its container and keeps its volume until --purge (the last two in test_data.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import docker
import httpx
import pytest

from tests.apps import TestApp
from tests.conftest import remove_app_resources, run_cli
from tests.datastores import accessory, get, ok, put, redis_app, web_port

pytestmark = pytest.mark.integration

@pytest.fixture
def app(tmp_path: Path, docker_client: docker.DockerClient, dockyard_env: Path):
    made = redis_app(tmp_path)
    yield made
    remove_app_resources(docker_client, made.name)


def test_the_app_writes_to_its_accessory_and_deploys_never_restart_it(app: TestApp, docker_client) -> None:
    ok("config", "set", "site", "GREETING=hello", cwd=app.path)
    run_cli("config", "set", "site", "DB_TOKEN", "--secret", cwd=app.path, input="s3cr3t-token")
    out = ok("accessory", "boot", "site", "db", cwd=app.path)
    assert "healthy" in out
    db = accessory(docker_client, app)
    started = db.attrs["State"]["StartedAt"]
    # config from the store: plain in its env, the secret as a file only
    assert "GREETING=hello" in db.attrs["Config"]["Env"]
    assert "s3cr3t-token" not in json.dumps(db.attrs)
    assert ok("accessory", "exec", "site", "db", "--", "redis-cli", "ping", cwd=app.path).strip() == "PONG"
    assert db.exec_run(["redis-cli", "--no-raw", "ping"]).exit_code == 0
    # not published on a host port, reachable on the environment's network by its name
    assert db.attrs["NetworkSettings"]["Ports"] in ({}, {"6379/tcp": None})
    assert "db" in db.attrs["NetworkSettings"]["Networks"][f"dockyard_{app.name}_site"]["Aliases"]

    ok("build", cwd=app.path)
    ok("deploy", "site", cwd=app.path)
    port = web_port(docker_client, app)
    assert put(port, "k1", "v1") == "+OK"
    assert get(port, "k1") == "v1"

    # a new release, a rollback and a scale: the accessory is the same container, never restarted
    app.write("www/index.html", "v2\n")
    app.commit("v2")
    ok("build", cwd=app.path)
    ok("deploy", "site", cwd=app.path)
    ok("rollback", "site", cwd=app.path)
    ok("scale", "site", "web", "3", cwd=app.path)
    db.reload()
    assert (db.status, db.attrs["State"]["StartedAt"], db.attrs["RestartCount"]) == ("running", started, 0)
    assert get(web_port(docker_client, app), "k1") == "v1"

    rows = json.loads(ok("ps", "site", "--json", cwd=app.path))
    [row] = [r for r in rows if r.get("accessory") == "db"]
    assert (row["state"], row["health"]) == ("running", "healthy")


def test_the_agent_measures_an_accessory_and_forwards_its_logs_like_any_container(app: TestApp, docker_client,
                                                                                    dockyard_env: Path) -> None:
    import subprocess
    import sys

    from tests.ports import free_port

    ok("config", "set", "site", "GREETING=hello", "DB_TOKEN=x", cwd=app.path)
    ok("accessory", "boot", "site", "db", cwd=app.path)
    port = free_port()
    agent = subprocess.Popen([str(Path(sys.executable).parent / "dockyard"), "agent", "--listen", f"127.0.0.1:{port}",
                              "--interval", "0.5", "--label", f"dockyard.app={app.name}"],
                             cwd=app.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sample: dict = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not sample.get("memory_bytes"):
            time.sleep(0.5)
            try:
                found = httpx.get(f"http://127.0.0.1:{port}/api/stats", timeout=2).json()["samples"]
            except httpx.HTTPError:
                continue
            sample = next((s for s in found if s["service"] == "db"), {})
        assert (sample["env"], sample["name"]) == ("site", f"{app.name}_site_db") and sample["memory_bytes"] > 0
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'service="db"' in metrics and f'app="{app.name}"' in metrics
        logged = ""
        while time.monotonic() < deadline and "Ready to accept connections" not in logged:
            time.sleep(0.5)
            logged = ok("logs", "site", "db", cwd=app.path)
        assert "Ready to accept connections" in logged  # redis-server's own line, through the forwarder
    finally:
        agent.terminate()
        agent.wait(timeout=20)

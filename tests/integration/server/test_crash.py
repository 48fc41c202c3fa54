"""kill -9 of `dockyard server` in the middle of a deploy: after a restart the run is resumed (or
marked interrupted) and the environment runs ONE whole release, every replica healthy."""

from __future__ import annotations

import time
from collections.abc import Iterator

import docker
import httpx
import pytest

from tests.integration.server.conftest import ServedApp, Server, cleanup, prepare_app

pytestmark = pytest.mark.integration

SLOW_START = {
    'command: [httpd, -f, -p, "8080", -h, /www]': 'command: [sh, -c, "sleep 4; exec httpd -f -p 8080 -h /www"]',
    "start_period: 8s": "start_period: 30s",
}
PIPELINE = "pipeline:\n  branches: {main: [testing]}\n"


@pytest.fixture(scope="module")
def crash_app(server_factory: Server, tmp_path_factory: pytest.TempPathFactory,
              docker_client_module: docker.DockerClient) -> Iterator[tuple[Server, ServedApp]]:
    app = prepare_app(tmp_path_factory.mktemp("apps"), server_factory, SLOW_START, PIPELINE)
    try:
        yield server_factory, app
    finally:
        server_factory.stop()
        cleanup(docker_client_module, app.app.name)


def containers(client: docker.DockerClient, app: str, env: str) -> list:
    return client.containers.list(all=True, filters={"label": [f"dockyard.app={app}", f"dockyard.env={env}"]})


def start_run(server: Server, app: str) -> int:
    with server.client() as client:
        response = client.post("/api/runs", json={"app": app, "branch": "main"})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def wait_for_deploy_to_start_containers(server: Server, run_id: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    with server.client() as client:
        while time.monotonic() < deadline:
            run = client.get(f"/api/runs/{run_id}", params={"output": True}).json()
            deploy = next(s for s in run["steps"] if s["kind"] == "deploy")
            if deploy["status"] == "running" and "started " in deploy["output"]:
                return
            assert run["status"] in ("queued", "running"), run
            time.sleep(0.05)
    raise AssertionError("the deploy step did not start a container in time")


def test_kill_9_mid_deploy_leaves_one_whole_healthy_release(crash_app: tuple[Server, ServedApp],
                                                             docker_client_module: docker.DockerClient) -> None:
    server, served = crash_app
    name = served.app.name
    server.start()
    first = server.wait_run(start_run(server, name), until=("succeeded",))
    old_release = {c.labels["dockyard.release"] for c in containers(docker_client_module, name, "testing")}
    assert len(old_release) == 1, first

    served.push("v2")
    run_id = start_run(server, name)
    wait_for_deploy_to_start_containers(server, run_id)
    server.kill9()

    # The kill landed mid-deploy: the new replica is still starting beside the old ones.
    during = containers(docker_client_module, name, "testing")
    releases_during = {c.labels["dockyard.release"] for c in during}
    assert len(releases_during) == 2 and old_release < releases_during, [c.name for c in during]

    server.start()
    run = server.wait_run(run_id, until=("succeeded", "interrupted", "failed"), timeout=150)
    assert run["status"] in ("succeeded", "interrupted"), run
    deploy = next(s for s in run["steps"] if s["kind"] == "deploy")
    assert "interrupted" in deploy["output"]

    after = containers(docker_client_module, name, "testing")
    assert len(after) == 2, [c.name for c in after]
    final = {c.labels["dockyard.release"] for c in after}
    assert len(final) == 1, f"a mix of releases: {final}"
    for container in after:
        container.reload()
        assert container.status == "running", container.name
        port = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).text == "ok\n"
    with server.client() as client:
        live = [r for r in client.get(f"/api/apps/{name}/releases/testing").json() if r["status"] == "live"]
    assert [r["release_id"] for r in live] == list(final)
    if run["status"] == "succeeded":
        assert final != old_release


def test_kill_9_mid_deploy_of_a_broken_release_goes_back_to_the_whole_old_one(
        crash_app: tuple[Server, ServedApp], docker_client_module: docker.DockerClient) -> None:
    """The resumed deploy must health-check what the killed one started: a release that never
    becomes healthy is removed, and the old release keeps serving, whole."""
    server, served = crash_app
    name = served.app.name
    if server.proc is None:
        server.start()
    before = containers(docker_client_module, name, "testing")
    old_release = {c.labels["dockyard.release"] for c in before}
    assert len(old_release) == 1 and len(before) == 2
    spec = served.app.spec_file.read_text()
    served.app.write("dockyard.yml", spec.replace("exec httpd -f -p 8080 -h /www", "exec httpd -f -p 8080 -h /nope")
                     .replace("start_period: 30s", "start_period: 6s"))
    served.push("v3: serves nothing, never healthy")
    run_id = start_run(server, name)
    wait_for_deploy_to_start_containers(server, run_id)
    server.kill9()
    assert len({c.labels["dockyard.release"] for c in containers(docker_client_module, name, "testing")}) == 2

    server.start()
    run = server.wait_run(run_id, until=("failed", "interrupted"), timeout=150)
    assert "deploy" in (run["error"] or "") or run["status"] == "interrupted", run
    after = containers(docker_client_module, name, "testing")
    assert {c.labels["dockyard.release"] for c in after} == old_release, [c.name for c in after]
    assert len(after) == 2
    for container in after:
        container.reload()
        assert container.status == "running" and container.name.endswith(("_web_1", "_web_2")), container.name
        port = container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).text == "ok\n"

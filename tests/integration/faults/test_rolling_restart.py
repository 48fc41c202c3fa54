"""The fault matrix: dockerd restarted in the middle of a rolling deploy on the real engine. The
deploy fails with one clear error, every replica comes back on the port it had, and the next
deploy converges to the new release with no container left over."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.integration.faults.engine import answers, restart_dockerd, wait_for

pytestmark = pytest.mark.integration

ENV = "  rolling: {engine: local, registry: local, strategy: rolling}\n"
# the new release needs 4 s before it answers: the deploy is between two replicas when the engine goes
SLOW_START = {
    'command: [httpd, -f, -p, "8080", -h, /www]': 'command: [sh, -c, "sleep 4; exec httpd -f -p 8080 -h /www"]',
    "start_period: 8s": "start_period: 30s",
}


def ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def replicas(client: docker.DockerClient, app: str) -> dict[str, tuple[str, str, str]]:
    """name -> (status, release, host port) of every container of the app."""
    found = {}
    for c in client.containers.list(all=True, filters={"label": f"dockyard.app={app}"}):
        ports = (c.attrs["HostConfig"].get("PortBindings") or {}).get("8080/tcp") or [{}]
        found[c.name] = (c.status, c.labels["dockyard.release"], ports[0].get("HostPort", ""))
    return found


@pytest.fixture
def rolling_app(tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[TestApp]:
    app = make_app(tmp_path, replicas=3, extra_envs=ENV)
    monkeypatch.chdir(app.path)
    try:
        yield app
    finally:
        remove_app_resources(docker_client, app.name)


def test_an_engine_restart_in_the_middle_of_a_rolling_deploy(rolling_app: TestApp,
                                                             docker_client: docker.DockerClient) -> None:
    app = rolling_app
    ok("build")
    ok("config", "set", "rolling", "GREETING=one")
    ok("deploy", "rolling")
    before = replicas(docker_client, app.name)
    assert len(before) == 3 and len({release for _, release, _ in before.values()}) == 1
    old = next(iter(before.values()))[1]

    spec = app.spec_file.read_text()
    for was, now in SLOW_START.items():
        spec = spec.replace(was, now)
    app.write("dockyard.yml", spec)
    app.commit("v2 starts slowly")
    ok("build")
    deploy = subprocess.Popen([str(Path(sys.executable).parent / "dockyard"), "deploy", "rolling"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert wait_for(lambda: any(r != old for _, r, _ in replicas(docker_client, app.name).values()), 60) is not None
    time.sleep(1.0)  # the first new replica runs and is not healthy yet
    engine_back = restart_dockerd(docker_client)
    out, err = deploy.communicate(timeout=180)
    assert deploy.returncode != 0, out
    assert "Traceback" not in err and "error:" in err, err
    print(f"the deploy said: {err.strip()}")

    # every container comes back (restart policy unless-stopped) on the port it had
    during = replicas(docker_client, app.name)
    assert wait_for(lambda: all(status == "running" for status, _, _ in replicas(docker_client, app.name).values()),
                    15) is not None, replicas(docker_client, app.name)
    assert {name: port for name, (_, _, port) in during.items()} == \
        {name: port for name, (_, _, port) in replicas(docker_client, app.name).items()}
    old_ports = [int(port) for _, release, port in during.values() if release == old]
    assert old_ports and wait_for(lambda: all(answers(p, "/health") == "ok" for p in old_ports), 10) is not None
    print(f"old replicas answer again {time.monotonic() - engine_back:.1f}s after the engine")

    ok("deploy", "rolling")  # the next deploy finishes the job
    after = replicas(docker_client, app.name)
    assert len(after) == 3, after  # nothing left over from the broken deploy
    assert all(status == "running" and release != old for status, release, _ in after.values()), after
    assert len({release for _, release, _ in after.values()}) == 1
    assert all(answers(int(port), "/health") == "ok" for _, _, port in after.values())

"""The example app (web + a worker with no port) in a blue/green production, under load (issue 27):
5 releases and 3 rollbacks drop no request; the worker moves with its colour (stopped while it stands
by, started again by a rollback); the colour rolled back from stays as the standby; a rollback to a
colour that does not answer fails with a message and changes nothing; a rollback whose colour is gone
starts the release afresh on a new colour, through its health checks, with no request lost."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.router.nginx import NginxRouter
from tests.conftest import run_cli
from tests.integration.bluegreen.load import Load, failures, non_2xx
from tests.ports import free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def example_bg(example_copy: tuple[Path, str], dockyard_env: Path, monkeypatch: pytest.MonkeyPatch
               ) -> Iterator[tuple[Path, str, int]]:
    app_dir, name = example_copy
    live, preview = free_port(), free_port()
    spec = app_dir / "dockyard.yml"
    text, count = re.subn(r"  production: \{.*\}", f"  production: {{engine: local, registry: local, strategy: "
                          f"blue-green, accessories: [], replicas: {{web: 2}},\n"
                          f"                router: {{live: {live}, preview: {preview}, rollback_window: 30m}}}}",
                          spec.read_text())
    assert count == 1
    spec.write_text(text)
    subprocess.run(["git", "-C", str(app_dir), "-c", "user.email=e2e@example.invalid", "-c", "user.name=e2e",
                    "commit", "-qam", "production: blue-green"], check=True)
    monkeypatch.chdir(app_dir)
    try:
        yield app_dir, name, live
    finally:
        NginxRouter(name, "production", home=dockyard_env).stop(timeout=5)


def ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def colours(client: docker.DockerClient, app: str) -> dict[str, tuple[str, str]]:
    """container name -> (status, release) of every replica of the app."""
    found = client.containers.list(all=True, filters={"label": [f"dockyard.app={app}", "dockyard.color"]})
    return {c.name: (c.status, c.labels["dockyard.release"]) for c in found}


def status() -> dict:
    """The colours of production's status."""
    return json.loads(ok("status", "production", "--json"))["colors"]


def test_the_example_s_worker_moves_with_its_colour_through_releases_and_rollbacks(
        example_bg, docker_client: docker.DockerClient) -> None:
    _app_dir, name, live = example_bg
    ok("config", "set", "production", "DOMAIN=hello.test", "DB_HOST=db.internal", "GREETING=v1")
    assert run_cli("secret", "set", "production", "DB_PASSWORD", input="pw").returncode == 0
    ok("build")
    ok("deploy", "production")

    def worker(color: str) -> str:
        return f"{name}_production_worker_{color}_1"

    load = Load(f"http://127.0.0.1:{live}/cgi-bin/info", threads=4, max_seconds=240).start()
    try:
        releases = []
        for n in range(2, 7):  # 5 releases in all
            ok("config", "set", "production", f"GREETING=v{n}")
            ok("deploy", "production")
            now = status()
            releases.append(now["live"]["release_id"])
            on, by = now["live"]["color"], now["preview"]["color"]
            seen = colours(docker_client, name)
            assert seen[worker(on)] == ("running", now["live"]["release_id"]) and seen[worker(by)][0] == "exited"
            if n in (3, 4, 6):  # 3 rollbacks: each a switch back to the colour standing by
                rolled = ok("rollback", "production")
                assert "its 1 parked worker(s) started again, no container was created" in rolled
                back = status()
                assert (back["live"]["color"], back["preview"]["color"]) == (by, on)
                after = colours(docker_client, name)
                assert after[worker(by)][0] == "running" and after[worker(on)][0] == "exited"
                assert {c for c in after if f"_{on}_" in c} == {c for c in seen if f"_{on}_" in c}  # still standing by

        # the standby colour's web replica does not answer: the rollback fails, and changes nothing
        standby = status()["preview"]["color"]
        frozen = docker_client.containers.get(f"{name}_production_web_{standby}_1")
        frozen.pause()
        try:
            before, live_before = colours(docker_client, name), status()["live"]
            failed = run_cli("rollback", "production")
            assert failed.returncode == 1 and f"cannot roll {name}/production back" in failed.stderr
            assert "both colours are as they were" in failed.stderr and "Traceback" not in failed.stderr
            assert colours(docker_client, name) == before and status()["live"] == live_before
        finally:
            frozen.unpause()

        # the standby colour is gone (removed by hand): the rollback starts the release on a new colour
        target = status()["preview"]["release_id"]
        for container in docker_client.containers.list(all=True, filters={"label": [
                f"dockyard.app={name}", f"dockyard.color={standby}"]}):
            container.remove(force=True)
        ok("rollback", "production")
        assert status()["live"]["release_id"] == target
    finally:
        hits = load.stop()
    answered = {m.group(1) for h in hits if h.status == 200 and (m := re.search(r"release: (\S+)", h.body))}
    assert len(hits) > 200 and not failures(hits) and not non_2xx(hits), (failures(hits) + non_2xx(hits))[:5]
    stored = json.loads(ok("releases", "production", "--json"))
    assert len(set(releases)) == 5 and len(answered) >= 3  # the load saw the releases go by
    assert answered <= {r["release_id"] for r in stored if r["status"] != "failed"}

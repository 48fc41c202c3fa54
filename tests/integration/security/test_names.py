"""Issue 28: names on the engine cannot collide. App a-b in environment c and app a in environment
b-c used to share a network (and its accessories by name) and a balancer folder. Deployed side by
side now, they share nothing; and a network of the old name still joins the new one after an upgrade."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.router.nginx import router_dir
from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli

pytestmark = pytest.mark.integration


def ok(*args: str, cwd: Path) -> str:
    result = run_cli(*args, cwd=cwd)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def renamed(app: TestApp, name: str, env: str) -> TestApp:
    """The app under another name, with one more environment."""
    text = app.spec_file.read_text().replace(f"app: {app.name}", f"app: {name}", 1)
    app.write("dockyard.yml", text + f"  {env}: {{engine: local, registry: local}}\n")
    app.commit(f"{name} in {env}")
    return TestApp(name=name, path=app.path)


@pytest.fixture
def pair(tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient) -> Iterator[tuple]:
    base = make_app(tmp_path / "one").name
    first = renamed(make_app(tmp_path / "one"), f"{base}-x", "y")  # app a-b, environment c
    second = renamed(make_app(tmp_path / "two"), base, "x-y")  # app a, environment b-c
    try:
        yield first, second
    finally:
        for app in (first, second):
            remove_app_resources(docker_client, app.name)


def test_app_a_b_env_c_and_app_a_env_b_c_share_nothing(pair, docker_client: docker.DockerClient) -> None:
    first, second = pair
    for app, env in ((first, "y"), (second, "x-y")):
        ok("config", "set", env, "GREETING=hi", cwd=app.path)
        ok("build", cwd=app.path)
        ok("deploy", env, cwd=app.path)

    def containers(app: TestApp) -> list:
        return docker_client.containers.list(filters={"label": f"dockyard.app={app.name}"})

    ones, twos = containers(first), containers(second)
    assert len(ones) == 2 and len(twos) == 2
    assert {c.name for c in ones} == {f"{first.name}_y_web_{n}" for n in (1, 2)}
    assert {c.name for c in twos} == {f"{second.name}_x-y_web_{n}" for n in (1, 2)}
    nets_one = {n for c in ones for n in c.attrs["NetworkSettings"]["Networks"]}
    nets_two = {n for c in twos for n in c.attrs["NetworkSettings"]["Networks"]}
    assert nets_one == {f"dockyard_{first.name}_y"} and nets_two == {f"dockyard_{second.name}_x-y"}
    assert router_dir(first.name, "y") != router_dir(second.name, "x-y")


def test_an_old_network_s_containers_join_the_new_one(pair, docker_client: docker.DockerClient) -> None:
    first, _ = pair
    legacy = docker_client.networks.create(f"dockyard-{first.name}-y", driver="bridge",
                                           labels={"dockyard.managed": "1", "dockyard.app": first.name,
                                                   "dockyard.env": "y"})
    old = docker_client.containers.run(  # an accessory made before the new names
        "dockyard/busybox:1.35", ["sleep", "600"], name=f"{first.name}_y_cache", detach=True, network=legacy.name,
        labels={"dockyard.app": first.name, "dockyard.env": "y", "dockyard.service": "cache",
                "dockyard.accessory": "cache"})
    stopped = docker_client.containers.create(  # stopped by its user: it joins too, for its next start
        "dockyard/busybox:1.35", ["sleep", "600"], name=f"{first.name}_y_jobs", network=legacy.name,
        labels={"dockyard.app": first.name, "dockyard.env": "y", "dockyard.service": "jobs",
                "dockyard.accessory": "jobs"})
    try:
        ok("config", "set", "y", "GREETING=hi", cwd=first.path)
        ok("build", cwd=first.path)
        ok("deploy", "y", cwd=first.path)
        old.reload()
        joined = old.attrs["NetworkSettings"]["Networks"]
        assert set(joined) == {legacy.name, f"dockyard_{first.name}_y"}
        assert "cache" in joined[f"dockyard_{first.name}_y"]["Aliases"]  # the app still finds it by name
        stopped.reload()
        assert "jobs" in stopped.attrs["NetworkSettings"]["Networks"][f"dockyard_{first.name}_y"]["Aliases"]
        web = docker_client.containers.get(f"{first.name}_y_web_1")
        resolved = web.exec_run(["ping", "-c", "1", "-W", "1", "cache"]).output  # nobody may not ping: it resolves
        assert f"PING cache ({joined[f'dockyard_{first.name}_y']['IPAddress']})".encode() in resolved, resolved
    finally:
        old.remove(force=True)
        stopped.remove(force=True)
        legacy.remove()

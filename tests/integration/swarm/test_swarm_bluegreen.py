"""Blue/green on the real two-node Swarm: a Swarm service per colour behind the environment's nginx
balancers, which route to each task's port at its node's publish address (127.0.0.1 on the
manager, 10.219.0.2 on the worker). Under load: releases, a rollback inside the window, and a
release that fails its health check, with no failed request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.router.edge import Edge
from dockyard.router.nginx import NginxRouter
from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.integration.bluegreen.helpers import RELEASE_CGI, bg_spec
from tests.integration.bluegreen.load import Load, failures, non_2xx
from tests.integration.swarm.conftest import home_env
from tests.integration.swarm.pool import MAIN_HOST, NODE2_ADDR, PUBLISH_NET, Pool
from tests.ports import free_port

pytestmark = pytest.mark.integration

WORKER = """\
  worker:
    command: [sh, -c, "while true; do sleep 1; done"]
    health: {command: [sh, -c, 'test -n "$DOCKYARD_RELEASE"'], interval: 500ms, timeout: 2s, start_period: 10s}
    stop_grace: 1s
config:"""


@pytest.fixture
def swarm_bg(swarm_pool: Pool, tmp_path: Path, docker_client: docker.DockerClient
             ) -> Iterator[tuple[TestApp, dict[str, str], int, int]]:
    if docker_client.nodes.get(swarm_pool.worker_id).attrs["Status"]["State"] != "ready":
        pytest.skip("the pool's worker is down (an earlier test stopped it)")
    home = tmp_path / "home"
    env = home_env(tmp_path)
    app = make_app(tmp_path)
    live, preview = free_port(), free_port()
    spec = bg_spec(app.name, live, preview).replace("engine: local", "engine: swarm")
    spec = spec.replace("resources: {cpus: 0.5, memory: 32m}",
                        "resources: {cpus: 0.25, memory: 32m}\n    placement: {max_per_node: 1}")
    spec = spec.replace("config:", WORKER, 1)  # a worker beside web: no port, a health command Swarm runs
    spec = spec.replace("environments:", VERSION, 1).replace("tests: [smoke]", "tests: [smoke, version]")
    app.write("dockyard.yml", spec + "    domains: [bg.swarm.test]\n")  # the host's edge in front too
    app.write("www/cgi-bin/release", RELEASE_CGI)
    app.write("www/smoke", "smoke ok\n")
    app.commit("blue-green on swarm")
    try:
        yield app, env, live, preview
    finally:
        Edge(home=home).stop(timeout=5)
        NginxRouter(app.name, "production", home=home).stop(timeout=5)
        for service in docker_client.services.list(filters={"label": f"dockyard.app={app.name}"}):
            service.remove()
        remove_app_resources(docker_client, app.name)


# RELEASE_CGI answers "RELEASE COLOR": the test passes only against the release it was given (issue 27)
VERSION = """\
  version: {run: [sh, -c, 'wget -qO- "$TARGET_URL/cgi-bin/release" | grep -q "^$DOCKYARD_RELEASE "
                  && echo "saw $DOCKYARD_RELEASE at $TARGET_URL"'], timeout: 20s}
environments:"""


def test_blue_green_on_swarm_under_load(swarm_bg, docker_client: docker.DockerClient) -> None:
    app, env, live, preview = swarm_bg

    def ok(*args: str) -> str:
        result = run_cli(*args, cwd=app.path, env=env)
        assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def status() -> dict:
        """The colours of the status, each side with its replicas (in status' one shape, the
        environment's replicas carry their colour)."""
        shown = json.loads(ok("status", "production", "--json"))
        colors = shown["colors"]
        for side in (colors["live"], colors["preview"]):
            side["replicas"] = [r for r in shown["replicas"] if side["color"] and r["color"] == side["color"]]
        return colors

    def workers() -> dict[str, tuple[int, str | None]]:
        """colour -> (its worker service's replica count, its dockyard.parked label)."""
        out = {}
        for s in docker_client.services.list(filters={"label": f"dockyard.app={app.name}"}):
            spec = s.attrs["Spec"]
            if spec["Labels"].get("dockyard.service") == "worker":
                out[spec["Labels"]["dockyard.color"]] = (spec["Mode"]["Replicated"]["Replicas"],
                                                         spec["Labels"].get("dockyard.parked"))
        return out

    def services() -> dict[str, str]:
        found = docker_client.services.list(filters={"label": f"dockyard.app={app.name}"})
        return {s.name: s.id for s in found}

    ok("engine", "add", "swarm", "--host", MAIN_HOST, "--swarm", "--publish-network", PUBLISH_NET)
    edge_port = free_port()
    ok("edge", "configure", "--address", "127.0.0.1", "--http-port", str(edge_port))
    ok("build")
    ok("config", "set", "production", "GREETING=one")
    first = ok("deploy", "production")
    assert "switch   blue: first live colour: blue" in first and "test smoke: passed" in first
    one = status()
    assert one["live"]["color"] == "blue" and one["balancer_running"]
    hosts = {httpx.URL(r["url"]).host for r in one["live"]["replicas"] if r["service"] == "web"}
    assert hosts == {"127.0.0.1", NODE2_ADDR}  # one task per node, both behind the live balancer
    assert services().keys() == {f"{app.name}_production_{s}_blue" for s in ("web", "worker")}
    api = tuple(int(n) for n in docker_client.version()["ApiVersion"].split("."))
    for service in docker_client.services.list(filters={"label": f"dockyard.app={app.name}"}):  # issue 28
        container = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]
        assert container["CapabilityDrop"] == ["ALL"]
        if api >= (1, 46):  # older engines (Debian's 20.10: 1.41) drop a task's no-new-privileges
            assert container["Privileges"]["NoNewPrivileges"] is True
    through_edge = httpx.get(f"http://127.0.0.1:{edge_port}/cgi-bin/release", headers={"Host": "bg.swarm.test"})
    assert through_edge.text.split() == [one["live"]["release_id"], "blue"]  # the edge sends it to the live balancer

    load = Load(f"http://127.0.0.1:{live}/cgi-bin/release", threads=3, max_seconds=240).start()
    try:
        ok("config", "set", "production", "GREETING=two")
        second = ok("deploy", "production")
        assert "switch   green: live traffic blue -> green" in second
        # the new colour's tasks were tested, through the standby listener, before the switch
        assert "test     green version: through the standby listener" in second
        two = status()
        assert (two["live"]["color"], two["preview"]["color"]) == ("green", "blue")
        assert {httpx.URL(r["url"]).host for r in two["live"]["replicas"] if r["service"] == "web"} == \
            {"127.0.0.1", NODE2_ADDR}
        assert [r["running"] for r in two["live"]["replicas"] if r["service"] == "worker"] == [True]
        state = NginxRouter(app.name, "production", home=Path(env["DOCKYARD_HOME"])).current()
        assert state is not None and state.live is not None
        assert {s.split(":")[0] for s in state.live.servers} == {"127.0.0.1", NODE2_ADDR}
        assert httpx.get(f"http://127.0.0.1:{live}/cgi-bin/release").text.split() == [two["live"]["release_id"],
                                                                                     "green"]
        kept = services()
        assert kept.keys() == {f"{app.name}_production_{s}_{c}" for s in ("web", "worker") for c in ("blue", "green")}
        assert workers() == {"blue": (0, "1"), "green": (1, None)}  # standby blue's worker parked: 0 tasks
        assert "stopped blue's 1 worker(s)" in second

        rolled = ok("rollback", "production")
        assert "its 1 parked worker(s) started again, no container was created" in rolled
        assert services() == kept  # a switch: no Swarm service created or replaced
        assert workers() == {"blue": (1, None), "green": (0, "1")}
        assert [t["Status"]["State"] for t in docker_client.services.get(kept[f"{app.name}_production_worker_blue"])
                .tasks(filters={"desired-state": "running"})] == ["running"]  # its health command passed
        assert httpx.get(f"http://127.0.0.1:{live}/cgi-bin/release").text.split() == [one["live"]["release_id"],
                                                                                     "blue"]

        (app.path / "www/health").unlink()
        app.commit("break health")
        ok("build")
        failed = run_cli("deploy", "production", cwd=app.path, env=env)
        assert failed.returncode == 1 and "Traceback" not in failed.stderr
        assert "did not answer /health" in failed.stderr
        assert status()["live"]["release_id"] == one["live"]["release_id"]
        assert services().keys() == {f"{app.name}_production_{s}_blue" for s in ("web", "worker")}  # green is gone
    finally:
        hits = load.stop()
    bad = json.loads(ok("releases", "production", "--json"))[0]
    assert bad["status"] == "failed"
    assert len(hits) > 100 and not failures(hits) and not non_2xx(hits), (failures(hits) + non_2xx(hits))[:5]
    assert not [h for h in hits if h.body.split(" ")[0] == bad["release_id"]]

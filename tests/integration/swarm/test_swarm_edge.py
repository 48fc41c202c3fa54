"""A rolling Swarm environment behind the host's edge (issue 15), on the real two-node Swarm: the
edge follows Swarm's start-first rollout task by task (a new task joins once it answers Dockyard's
probe, an old one leaves when Swarm stops wanting it), so a rolling release and a release that
fails its health check, both under load through the edge, fail no request, and no request is
answered by the failing release; `dockyard down` then removes the services and the route."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.router.edge import Edge
from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.integration.bluegreen.helpers import RELEASE_CGI
from tests.integration.bluegreen.load import Load
from tests.integration.swarm.conftest import home_env
from tests.integration.swarm.pool import MAIN_HOST, NODE2_ADDR, PUBLISH_NET, Pool
from tests.ports import free_port

pytestmark = pytest.mark.integration

DOMAIN = "swarm.test"


@pytest.fixture
def swarm_rolling(swarm_pool: Pool, tmp_path: Path, docker_client: docker.DockerClient
                  ) -> Iterator[tuple[TestApp, dict[str, str], int]]:
    if docker_client.nodes.get(swarm_pool.worker_id).attrs["Status"]["State"] != "ready":
        pytest.skip("the pool's worker is down (an earlier test stopped it)")
    home = tmp_path / "home"
    env = home_env(tmp_path)
    app = make_app(tmp_path, replicas=3, extra_envs=f"  site:\n    engine: swarm\n    registry: local\n"
                                                     f"    strategy: rolling\n    domains: [{DOMAIN}]\n"
                                                     "    tests: [smoke]\n")
    app.write("www/cgi-bin/release", RELEASE_CGI)
    app.commit("a release page")
    port = free_port()
    try:
        yield app, env, port
    finally:
        Edge(home=home).stop(timeout=5)
        for service in docker_client.services.list(filters={"label": f"dockyard.app={app.name}"}):
            service.remove()
        remove_app_resources(docker_client, app.name)


def test_rolling_on_swarm_through_the_edge_under_load(swarm_rolling, docker_client: docker.DockerClient) -> None:
    app, env, port = swarm_rolling

    def ok(*args: str) -> str:
        result = run_cli(*args, cwd=app.path, env=env)
        assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def release() -> str:
        answer = httpx.get(f"http://127.0.0.1:{port}/cgi-bin/release", headers={"Host": DOMAIN}, timeout=5)
        return answer.text.split()[0]

    def servers() -> list[str]:
        status = json.loads(ok("edge", "status", "--json"))
        return next(r["servers"] for r in status["routes"] if r["app"] == app.name)

    ok("edge", "configure", "--address", "127.0.0.1", "--http-port", str(port))
    ok("engine", "add", "swarm", "--host", MAIN_HOST, "--swarm", "--publish-network", PUBLISH_NET)
    ok("build")
    ok("config", "set", "site", "GREETING=one")
    deployed = ok("deploy", "site")
    assert "edge: " in deployed
    # the endpoint test reached a task of the new release, on this host (issue 27)
    assert "test     smoke: against release " in deployed and "at http://127.0.0.1:" in deployed
    assert "test smoke: passed" in deployed
    first = release()
    assert len(servers()) == 3 and {s.split(":")[0] for s in servers()} == {"127.0.0.1", NODE2_ADDR}

    load = Load(f"http://127.0.0.1:{port}/cgi-bin/release", threads=4, max_seconds=240,
                headers={"Host": DOMAIN}).start()
    try:
        ok("config", "set", "site", "GREETING=two")
        ok("deploy", "site")  # Swarm replaces the three tasks one at a time
        second = release()
        assert second != first and len(servers()) == 3
        (app.path / "www/health").unlink()
        app.commit("break health")
        ok("build")
        failed = run_cli("deploy", "site", cwd=app.path, env=env)
        assert failed.returncode == 1 and "Traceback" not in failed.stderr
        assert release() == second and len(servers()) == 3
    finally:
        hits = load.stop()
    assert len(hits) > 200
    assert [h for h in hits if h.status != 200] == []  # not one failed request
    assert {h.body.split()[0] for h in hits} == {first, second}  # none from the failing release

    down = ok("down", "site", "--yes")  # the services and the edge's route go; the releases stay
    assert docker_client.services.list(filters={"label": f"dockyard.app={app.name}"}) == []
    assert "edge: no route left; HAProxy stopped" in down  # nothing listens with no route (issue 27)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": DOMAIN}, timeout=5)
    assert json.loads(ok("releases", "site", "--json"))

"""A canary on the real two-node Swarm behind the host's edge (issue 32): the canary's tasks (a
Swarm service per service and colour, spread over both nodes) get a share of the requests at the
edge, a good release is promoted through its steps with no failed request, judged also on the CPU
and memory of its tasks' containers as the host agent samples them, and one answering 5 % 500s is
aborted by itself at its first step: its services removed, the stable ones serving."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.router.edge import Edge
from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.e2e.test_canary import BASE_DELAY, CANARY_CGI
from tests.integration.bluegreen.load import Load
from tests.integration.swarm.conftest import home_env
from tests.integration.swarm.pool import MAIN_HOST, NODE2_ADDR, PUBLISH_NET, Pool
from tests.ports import free_port

pytestmark = pytest.mark.integration

DOMAIN = "canary.swarm.test"


@pytest.fixture
def swarm_canary(swarm_pool: Pool, tmp_path: Path, docker_client: docker.DockerClient
                 ) -> Iterator[tuple[TestApp, dict[str, str], int]]:
    if docker_client.nodes.get(swarm_pool.worker_id).attrs["Status"]["State"] != "ready":
        pytest.skip("the pool's worker is down (an earlier test stopped it)")
    env = home_env(tmp_path)
    app = make_app(tmp_path, replicas=2, extra_envs=(
        f"  site:\n    engine: swarm\n    registry: local\n    strategy: canary\n    domains: [{DOMAIN}]\n"
        "    canary:\n      steps: [{weight: 20, pause: 5s}, {weight: 50, pause: 5s}]\n"
        "      analysis: {max_5xx_ratio: 0.01, min_requests: 20, interval: 1s, max_cpu_ratio: 3,\n"
        "                 max_memory_ratio: 3}\n"))
    app.write("www/cgi-bin/release", CANARY_CGI)
    app.commit("a release page")
    port = free_port()
    try:
        yield app, env, port
    finally:
        Edge(home=tmp_path / "home").stop(timeout=5)
        for service in docker_client.services.list(filters={"label": f"dockyard.app={app.name}"}):
            service.remove()
        remove_app_resources(docker_client, app.name)


def test_a_canary_on_swarm_through_the_edge(swarm_canary, docker_client: docker.DockerClient, tmp_path: Path) -> None:
    from tests.integration.edge.test_edge import agent

    app, env, port = swarm_canary
    with agent(Path(env["DOCKYARD_HOME"]), f"dockyard.app={app.name}", tmp_path / "agent.log") as url:
        good_then_bad(app, {**env, "DOCKYARD_AGENT": url}, port, docker_client)


def good_then_bad(app: TestApp, env: dict[str, str], port: int, docker_client: docker.DockerClient) -> None:

    def ok(*args: str) -> str:
        result = run_cli(*args, cwd=app.path, env=env)
        assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def rollout() -> dict:
        return json.loads(ok("rollout", "status", "site", "--json"))["rollout"]

    def services() -> set[tuple[str, str]]:
        return {(s.attrs["Spec"]["Labels"]["dockyard.release"], s.attrs["Spec"]["Labels"].get("dockyard.color", ""))
                for s in docker_client.services.list(filters={"label": f"dockyard.app={app.name}"})}

    ok("edge", "configure", "--address", "127.0.0.1", "--http-port", str(port))
    ok("engine", "add", "swarm", "--host", MAIN_HOST, "--swarm", "--publish-network", PUBLISH_NET)
    ok("build")
    ok("config", "set", "site", "GREETING=one", f"DELAY_US={BASE_DELAY}")
    ok("deploy", "site")  # the first release: live whole, on blue
    (stable,) = {release for release, _ in services()}
    load = Load(f"http://127.0.0.1:{port}/cgi-bin/release", threads=4, pause=0.002, sticky=False, max_seconds=200,
                headers={"Host": DOMAIN}).start()
    try:
        ok("config", "set", "site", "GREETING=two")
        out = ok("deploy", "site")
        good = rollout()
        assert good["state"] == "promoted" and "promoted" in out
        route = json.loads(ok("edge", "status", "--json"))
        servers = next(r["servers"] for r in route["routes"] if r["app"] == app.name)
        assert {s.split(":")[0] for s in servers} <= {"127.0.0.1", NODE2_ADDR} and len(servers) == 2
        ok("config", "set", "site", "FAIL_PERCENT=5")
        failed = run_cli("deploy", "site", cwd=app.path, env=env)
        assert failed.returncode == 1 and "aborted" in failed.stderr and "Traceback" not in failed.stderr
    finally:
        hits = load.stop()
    bad = rollout()
    assert bad["state"] == "aborted" and "5xx ratio" in bad["reason"] and bad["analysis"][0]["weight"] == 20
    assert [(s["weight"], s["decision"]) for s in good["analysis"]] == [(20, "advance"), (50, "promote")]
    for step in good["analysis"]:  # the agent's samples of both releases' task containers were judged
        assert step["canary"]["cpu_percent"] is not None and step["stable"]["memory_bytes"], step
    left = services()  # the stable release's services only, on one colour
    assert {release for release, _ in left} == {good["release_id"]} and len({color for _, color in left}) == 1
    assert all(h.status is not None for h in hits)
    answers = {h.body.split()[0] for h in hits}
    assert answers <= {stable, good["release_id"], bad["release_id"]} and good["release_id"] in answers
    assert all(h.body.startswith(bad["release_id"]) for h in hits if h.status != 200)  # only the canary failed
    print(f"\nSwarm canary: {len(hits)} requests, the bad canary answered "
          f"{sum(h.body.startswith(bad['release_id']) for h in hits)} before its abort")

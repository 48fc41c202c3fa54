"""Swarm environments on a real two-node pool: spread, rollback on failure, drain, a node dying.

The pool (tests/integration/swarm/pool.py) is the main dockerd as manager plus a dockerd in
its own network namespace as worker. Traffic goes to 127.0.0.1 and 10.219.0.2 only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import docker
import httpx
import pytest

from dockyard.engine.client import DockerEngine
from dockyard.settings import EngineSettings
from tests.apps import TestApp
from tests.conftest import run_cli
from tests.integration.swarm.pool import MAIN_HOST, NETNS, NODE2_ADDR, NODE2_HOST, PUBLISH_NET, Pool, wait_for
from tests.ports import free_port

pytestmark = pytest.mark.integration


def cli(app: tuple[TestApp, dict[str, str]], *args: str, input: str | None = None, ok: bool = True):
    test_app, env = app
    result = run_cli(*args, cwd=test_app.path, input=input, env=env)
    if ok:
        assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


def ps(app) -> list[dict]:
    return json.loads(cli(app, "ps", "swarm", "--json").stdout)


def page(url: str, path: str = "/cgi-bin/env") -> str:
    return httpx.get(url + path, timeout=3).text


def engine(client: docker.DockerClient) -> DockerEngine:
    return DockerEngine(name="swarm", config=EngineSettings(host=MAIN_HOST, swarm=True), client=client)


def answering(rows) -> int:
    count = 0
    for row in rows:
        if row.running and row.url:
            try:
                count += httpx.get(row.url + "/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                pass
    return count


def tasks_by_node(client: docker.DockerClient, app: TestApp) -> dict[str, int]:
    service = client.services.list(filters={"label": f"dockyard.app={app.name}"})[0]
    counts: dict[str, int] = {}
    for task in service.tasks(filters={"desired-state": "running"}):
        if task["Status"]["State"] == "running":
            counts[task["NodeID"]] = counts.get(task["NodeID"], 0) + 1
    return counts


def serve_through(client: docker.DockerClient, app: TestApp, done, timeout: float) -> list[int]:
    """Probe every running task until done(rows) holds; the answers per round (each must be >= 1)."""
    rounds: list[int] = []
    rows: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = engine(client).observe(app.name, "swarm")
        rounds.append(answering(rows))
        if done(rows):
            return rounds
        time.sleep(0.3)
    last = [(r.replica, r.state, r.url) for r in rows]
    raise AssertionError(f"not settled after {timeout:g}s; answers per round: {rounds}; last rows: {last}")


def test_deploy_spreads_tasks_over_both_nodes(swarm_app, swarm_pool: Pool, docker_client) -> None:
    test_app = swarm_app[0]
    cli(swarm_app, "engine", "add", "swarm", "--host", MAIN_HOST, "--swarm", "--publish-network", PUBLISH_NET)
    cli(swarm_app, "config", "set", "swarm", "GREETING=hello")
    cli(swarm_app, "secret", "set", "swarm", "DB_PASSWORD", input="pa55-word-xyz\n")
    cli(swarm_app, "build")
    out = cli(swarm_app, "deploy", "swarm").stdout
    assert "create" in out and "runs release" in out

    rows = ps(swarm_app)
    assert [(r["state"], r["health"]) for r in rows] == [("running", "healthy")] * 4
    assert {urlparse(r["url"]).hostname for r in rows} == {"127.0.0.1", NODE2_ADDR}
    assert set(tasks_by_node(docker_client, test_app)) == {swarm_pool.manager_id, swarm_pool.worker_id}
    for row in rows:
        text = page(row["url"])
        assert "GREETING=hello" in text and "file /etc/app/app.conf: greeting=hello" in text
        assert "secret-file DB_PASSWORD" in text and "pa55" not in text  # a Swarm secret, never env

    service = docker_client.services.list(filters={"label": f"dockyard.app={test_app.name}"})[0].attrs["Spec"]
    assert service["UpdateConfig"]["Order"] == "start-first"
    assert service["UpdateConfig"]["FailureAction"] == "rollback"
    assert service["EndpointSpec"]["Ports"][0]["PublishMode"] == "host"
    assert service["TaskTemplate"]["Resources"]["Reservations"] == {"NanoCPUs": 200_000_000,
                                                                    "MemoryBytes": 32 * 2**20}

    nodes = json.loads(cli(swarm_app, "nodes", "--json").stdout)
    assert sorted(n["role"] for n in nodes) == ["manager", "worker"]
    assert all(n["nano_cpus"] > 0 and n["memory_bytes"] > 0 and n["state"] == "ready" for n in nodes)
    assert sum(len(n["tasks"]) for n in nodes) == 4 and all(n["tasks"] for n in nodes)


def test_failing_release_is_rolled_back_with_its_logs(swarm_app) -> None:
    test_app = swarm_app[0]
    before = {r["release_id"] for r in ps(swarm_app)}
    spec = test_app.spec_file.read_text()
    test_app.write("dockyard.yml", spec.replace('[httpd, -f, -p, "8080", -h, /www]',
                                                '[sh, -c, "echo crashing on purpose; exit 3"]'))
    test_app.commit("crash")
    cli(swarm_app, "build")
    failed = cli(swarm_app, "deploy", "swarm", ok=False)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert "rolled the update back" in failed.stderr and "crashing on purpose" in failed.stderr
    rows = ps(swarm_app)
    assert {r["release_id"] for r in rows} == before and [r["health"] for r in rows] == ["healthy"] * 4
    releases = json.loads(cli(swarm_app, "releases", "swarm", "--json").stdout)
    assert releases[0]["status"] == "failed" and releases[1]["status"] == "live"
    test_app.write("dockyard.yml", spec)
    test_app.commit("fix")
    cli(swarm_app, "build")


def test_rollback_restores_image_and_configuration(swarm_app) -> None:
    cli(swarm_app, "deploy", "swarm")
    first = json.loads(cli(swarm_app, "releases", "swarm", "--json").stdout)[0]["release_id"]
    cli(swarm_app, "config", "set", "swarm", "GREETING=second")
    cli(swarm_app, "deploy", "swarm")
    assert all("GREETING=second" in page(r["url"]) for r in ps(swarm_app))
    cli(swarm_app, "rollback", "swarm")
    rows = ps(swarm_app)
    assert {r["release_id"] for r in rows} == {first} and all("GREETING=hello" in page(r["url"]) for r in rows)


def test_scaling_a_swarm_service_by_hand_and_through_the_loop(swarm_app, docker_client) -> None:
    test_app = swarm_app[0]
    spec = test_app.spec_file.read_text()
    test_app.write("dockyard.yml", spec.replace("swarm: {engine: swarm, registry: local}",
                                                "swarm: {engine: swarm, registry: local, "
                                                "scaling: {web: {min: 2, max: 6, cpu_target: 50}}}"))
    test_app.commit("scaling on swarm")
    try:
        held = json.loads(cli(swarm_app, "scale", "swarm", "web", "9", "--json").stdout)
        assert (held["current"], held["desired"]) == (4, 6)  # clamped to max
        assert held["outcome"].startswith(f"service {test_app.name}_swarm_web: 4 -> 6 replicas")
        rows = ps(swarm_app)
        assert [r["health"] for r in rows] == ["healthy"] * 6 and len({r["release_id"] for r in rows}) == 1
        assert all("GREETING=hello" in page(r["url"]) for r in rows)  # the live release, on both nodes
        # The loop reads the Swarm tasks; it keeps the override, and with the override gone and no
        # agent answering it holds: no samples never shrink.
        once = json.loads(cli(swarm_app, "autoscale", "run", "--once", "--json", "--agent",
                              "http://127.0.0.1:9").stdout)
        assert [(e["action"], e["current"], e["desired"], e["reason"]) for e in once] == [
            ("hold", 6, 6, "manual override 9; clamped to max 6")]
        cli(swarm_app, "scale", "swarm", "web", "--clear")
        once = json.loads(cli(swarm_app, "autoscale", "run", "--once", "--json", "--agent",
                              "http://127.0.0.1:9").stdout)
        assert [(e["action"], e["current"], e["desired"]) for e in once] == [("hold", 6, 6)]
        back = json.loads(cli(swarm_app, "scale", "swarm", "web", "4", "--json").stdout)
        assert (back["current"], back["desired"]) == (6, 4) and len(ps(swarm_app)) == 4
    finally:
        cli(swarm_app, "scale", "swarm", "web", "--clear", ok=False)
        test_app.write("dockyard.yml", spec)
        test_app.commit("no scaling")


def node2_row(app) -> dict:
    return next(r for r in ps(app) if urlparse(r["url"]).hostname == NODE2_ADDR)


def test_exec_reaches_a_task_on_the_other_node(swarm_app, swarm_pool: Pool) -> None:
    row = node2_row(swarm_app)
    unnamed = cli(swarm_app, "exec", "swarm", "web", "--replica", str(row["replica"]), "--", "hostname", ok=False)
    assert unnamed.returncode == 1 and "names no engine" in unnamed.stderr and "dockyard.engine" in unnamed.stderr
    cli(swarm_app, "engine", "add", "node2", "--host", NODE2_HOST)
    swarm_pool.label(swarm_pool.worker_id, {"dockyard.engine": "node2"})
    done = cli(swarm_app, "exec", "swarm", "web", "--replica", str(row["replica"]), "--", "hostname")
    assert done.stdout.strip() == row["id"][:12]  # the task container on node2, through node2's dockerd
    here = next(r for r in ps(swarm_app) if urlparse(r["url"]).hostname == "127.0.0.1")
    assert cli(swarm_app, "exec", "swarm", "web", "--replica", str(here["replica"]), "--",
               "hostname").stdout.strip() == here["id"][:12]


def test_logs_of_a_swarm_environment_come_from_every_node(swarm_app, swarm_pool: Pool, docker_client) -> None:
    rows = ps(swarm_app)
    marks = {}
    for row in rows:
        mark = f"mark-{row['replica']}-{time.monotonic_ns()}"
        assert httpx.get(f"{row['url']}/cgi-bin/log?{mark}", timeout=3).text.strip() == f"logged {mark}"
        marks[mark] = urlparse(row["url"]).hostname

    def found() -> list[dict] | None:
        got = json.loads(cli(swarm_app, "logs", "swarm", "web", "--grep", "logged mark-", "--json").stdout)
        return got if {line["message"].split()[-1] for line in got} >= set(marks) else None

    lines = wait_for("every task's line through the manager", found, 20)
    by_mark = {line["message"].split()[-1]: line for line in lines}
    hosts = {n.id: n.attrs["Description"]["Hostname"] for n in docker_client.nodes.list()}
    node_of = {NODE2_ADDR: hosts[swarm_pool.worker_id], "127.0.0.1": hosts[swarm_pool.manager_id]}
    for mark, addr in marks.items():
        line = by_mark[mark]
        assert (line["stream"], line["env"], line["service"], line["host"]) == ("stderr", "swarm", "web", node_of[addr])
    # Both nodes are called "vm" here (one kernel, one hostname): the task ids tell them apart.
    node_of_task = {t["ID"]: t["NodeID"] for t in docker_client.api.tasks(filters={"label": "dockyard.app="
                                                                                   + swarm_app[0].name})}
    assert {node_of_task[line["container_id"]] for line in lines} == {swarm_pool.manager_id, swarm_pool.worker_id}
    assert [line["time_ns"] for line in lines] == sorted((line["time_ns"] for line in lines), reverse=True)
    one = next(iter(marks))
    text = cli(swarm_app, "logs", "swarm", "--grep", one).stdout
    assert text.count(one) == 1 and f"{swarm_app[0].name}_swarm_web." in text


@contextmanager
def agent(app, engine_name: str, url: str, netns: str | None = None) -> Iterator[None]:
    """A monitor agent for this app's containers on one node (its process, stopped by its PID afterwards)."""
    test_app, env = app
    command = ["nsenter", f"--net=/var/run/netns/{netns}"] if netns else []
    command += [str(Path(sys.executable).parent / "dockyard"), "agent", "--no-logs", "--interval", "0.5",
                "--engine", engine_name, "--listen", url.removeprefix("http://"), "--insecure",
                "--label", f"dockyard.app={test_app.name}"]
    proc = subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield
    finally:
        proc.terminate()
        proc.wait(10)


def agent_samples(url: str, app: str) -> int:
    try:
        return len(httpx.get(f"{url}/api/stats", params={"app": app}, timeout=2).json()["samples"])
    except (httpx.HTTPError, ValueError, KeyError):
        return 0


def test_the_autoscaler_reads_the_agent_of_every_node(swarm_app, swarm_pool: Pool) -> None:
    test_app = swarm_app[0]
    spec = test_app.spec_file.read_text()
    test_app.write("dockyard.yml", spec.replace(
        "swarm: {engine: swarm, registry: local}",
        "swarm: {engine: swarm, registry: local, scaling: {web: {min: 2, max: 6, cpu_target: 50, period: 1s, "
        "scale_down_window: 0s}}}"))
    test_app.commit("scaling on swarm, no down window")
    here, there = f"http://127.0.0.1:{free_port()}", f"http://{NODE2_ADDR}:{free_port()}"
    on_tasks = Counter(urlparse(r["url"]).hostname for r in ps(swarm_app))
    assert on_tasks[NODE2_ADDR] and on_tasks["127.0.0.1"], on_tasks
    try:
        with agent(swarm_app, "swarm", here), agent(swarm_app, "node2", there, netns=NETNS):
            # a readiness wait, not a figure: under the whole suite's load the two agents once took over 30 s,
            # and once over 90 s (2026-12-07); the tasks each node runs are read again at each look
            def sampled() -> bool:
                seen = (agent_samples(here, test_app.name), agent_samples(there, test_app.name))
                if seen == (on_tasks["127.0.0.1"], on_tasks[NODE2_ADDR]):
                    return True
                on_tasks.clear()
                on_tasks.update(urlparse(r["url"]).hostname for r in ps(swarm_app))
                return False

            wait_for("both agents to sample their node's tasks", sampled, 180, interval=1.0)
            # Without the node's label only the manager's tasks have samples: a missing sample never shrinks.
            once = json.loads(cli(swarm_app, "autoscale", "run", "--once", "--json", "--agent", here).stdout)
            assert [(e["action"], e["current"], e["desired"]) for e in once] == [("hold", 4, 4)], once
            swarm_pool.label(swarm_pool.worker_id, {"dockyard.agent": there})
            once = json.loads(cli(swarm_app, "autoscale", "run", "--once", "--json", "--agent", here).stdout)
            assert [(e["action"], e["current"], e["desired"]) for e in once] == [("scale-in", 4, 2)], once
            assert len(ps(swarm_app)) == 2
    finally:
        swarm_pool.label(swarm_pool.worker_id, {"dockyard.agent": ""})
        test_app.write("dockyard.yml", spec)
        test_app.commit("no scaling")
        cli(swarm_app, "scale", "swarm", "web", "4")
        cli(swarm_app, "scale", "swarm", "web", "--clear")
    assert len(ps(swarm_app)) == 4


def test_draining_a_node_moves_its_tasks_and_keeps_serving(swarm_app, swarm_pool: Pool, docker_client) -> None:
    test_app = swarm_app[0]
    assert tasks_by_node(docker_client, test_app).get(swarm_pool.worker_id)
    swarm_pool.label(swarm_pool.worker_id, {}, availability="drain")
    try:
        rounds = serve_through(docker_client, test_app, lambda rows: len(rows) == 4 and all(
            r.running and r.url and r.url.startswith("http://127.0.0.1:") for r in rows)
            and answering(rows) == 4, 60)
    finally:
        swarm_pool.label(swarm_pool.worker_id, {}, availability="active")
    assert min(rounds) >= 1, rounds
    assert tasks_by_node(docker_client, test_app) == {swarm_pool.manager_id: 4}


def test_stopping_a_nodes_dockerd_is_survived(swarm_app, swarm_pool: Pool, docker_client) -> None:
    test_app = swarm_app[0]
    service = docker_client.services.list(filters={"label": f"dockyard.app={test_app.name}"})[0]
    service.force_update()  # spread the tasks over both nodes again after the drain
    def spread_and_settled() -> bool:
        service.reload()
        return ((service.attrs.get("UpdateStatus") or {}).get("State") == "completed"
                and len(tasks_by_node(docker_client, test_app)) == 2
                and sum(tasks_by_node(docker_client, test_app).values()) == 4)

    wait_for("the update to spread tasks over both nodes", spread_and_settled, 90)
    assert answering(engine(docker_client).observe(test_app.name, "swarm")) == 4

    swarm_pool.stop_node2()
    rounds = serve_through(docker_client, test_app, lambda rows: all(
        r.url and r.url.startswith("http://127.0.0.1:") for r in rows if r.running) and answering(rows) >= 4, 90)
    assert min(rounds) >= 1, rounds
    worker = docker_client.nodes.get(swarm_pool.worker_id).attrs
    assert worker["Status"]["State"] == "down"
    assert set(tasks_by_node(docker_client, test_app)) == {swarm_pool.manager_id}

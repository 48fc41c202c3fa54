"""The host's edge on real HAProxy and the real engine (issue 15): environments served by name on one
port, a rolling deploy of 3 replicas and blue-green releases under load through it with no failed
request, a name claimed twice refused with file:line and its owner, a bad name refused."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.router.edge import Edge
from dockyard.router.nginx import NginxRouter
from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.integration.bluegreen.helpers import RELEASE_CGI, bg_spec
from tests.integration.bluegreen.load import Hit, Load
from tests.json_schemas import check
from tests.ports import free_port

pytestmark = pytest.mark.integration


def ok(*args: str, cwd: Path) -> str:
    result = run_cli(*args, cwd=cwd)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def get(port: int, host: str, path: str = "/health") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", headers={"Host": host}, timeout=5)


def rolling_app(root: Path, domain: str, replicas: int = 3) -> TestApp:
    env = (f"  site:\n    engine: local\n    registry: local\n    strategy: rolling\n"
           f"    domains: [{domain}]\n    redirects: {{www.{domain}: {domain}}}\n")
    app = make_app(root, replicas=replicas, extra_envs=env)
    app.write("www/cgi-bin/release", RELEASE_CGI)
    app.commit("a release page")
    return app


ROTATE = 8 << 10


@contextmanager
def agent(home: Path, label: str, log: Path) -> Iterator[str]:
    """`dockyard agent` with its log forwarder, rotating the edge's access log every ROTATE bytes: its URL."""
    listen = f"127.0.0.1:{free_port()}"
    argv = [str(Path(sys.executable).parent / "dockyard"), "agent", "--listen", listen, "--label", label,
            "--edge-log-rotate", str(ROTATE)]
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=out, env={**os.environ, "DOCKYARD_HOME": str(home)},
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://{listen}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield f"http://{listen}"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(20)


def edge_requests(url: str, app: str, env: str) -> dict[str, float]:
    """dockyard_edge_requests_total of one environment, by status class, from the agent's /metrics."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    pattern = rf'dockyard_edge_requests_total{{app="{app}",code="(\w+)",env="{env}",host="[^"]*"}} ([0-9.e+]+)'
    return {code: float(value) for code, value in re.findall(pattern, text)}


@pytest.fixture
def edge(dockyard_env: Path, docker_client: docker.DockerClient) -> Iterator[tuple[int, list[TestApp]]]:
    """The edge on a free 127.0.0.1 port; the apps a test makes are removed after it, with the edge."""
    port = free_port()
    result = run_cli("edge", "configure", "--address", "127.0.0.1", "--http-port", str(port))
    assert result.returncode == 0, result.stderr
    apps: list[TestApp] = []
    try:
        yield port, apps
    finally:
        for app in apps:
            NginxRouter(app.name, "production", home=dockyard_env).stop(timeout=5)
            remove_app_resources(docker_client, app.name)
        Edge(home=dockyard_env).stop(timeout=5)


def test_two_apps_by_name_and_a_rolling_deploy_under_load_loses_nothing(edge, tmp_path: Path,
                                                                        dockyard_env: Path) -> None:
    """... and the edge's access log, rotated under that load, reaches the log store and the agent's
    per-environment metrics with every request exactly once."""
    port, apps = edge
    shop, blog = rolling_app(tmp_path, "shop.test"), rolling_app(tmp_path, "blog.test", replicas=1)
    apps += [shop, blog]
    for app in (shop, blog):
        ok("build", cwd=app.path)
        ok("config", "set", "site", "GREETING=one", cwd=app.path)
        out = ok("deploy", "site", cwd=app.path)
        assert "edge: " in out
    with agent(dockyard_env, f"dockyard.app={shop.name}", tmp_path / "agent.log") as agent_url:
        hits = rolling_under_load(port, shop, blog, agent_url)
        # the agent rotated the log under the load (over 100 lines of over 150 bytes: past 8 KiB)
        rotations = re.search(r"^dockyard_logs_edge_rotations_total ([0-9.]+)$",
                              httpx.get(f"{agent_url}/metrics", timeout=5).text, re.M)
        # what was read is deleted once its process exited (the agent looks every 0.5 s): the edge's
        # own file, and those of old processes still finishing their requests
        deadline = time.monotonic() + 15
        while (files := len(list((dockyard_env / "edge" / "logs").glob("access-*.log")))) > (
                processes := len(Edge(home=dockyard_env).processes())) and time.monotonic() < deadline:
            time.sleep(0.2)
    assert len(hits) > 100 and rotations is not None and float(rotations[1]) >= 1
    assert files <= processes, (files, processes)


def rolling_under_load(port: int, shop: TestApp, blog: TestApp, agent_url: str) -> list[Hit]:
    first = get(port, "shop.test", "/cgi-bin/release").text.split()[0]
    assert get(port, "blog.test", "/cgi-bin/release").text.split()[0] != first  # by name, two apps
    assert get(port, "nobody.test").status_code == 404
    moved = get(port, "www.shop.test", "/x?y=1")
    assert moved.status_code == 308 and moved.headers["location"] == f"http://shop.test:{port}/x?y=1"

    ok("config", "set", "site", "GREETING=two", cwd=shop.path)
    load = Load(f"http://127.0.0.1:{port}/cgi-bin/release", threads=4, max_seconds=120,
                headers={"Host": "shop.test"}).start()
    try:
        ok("deploy", "site", cwd=shop.path)  # three replicas replaced one at a time
    finally:
        hits = load.stop()
    second = get(port, "shop.test", "/cgi-bin/release").text.split()[0]
    assert second != first
    assert len(hits) > 100
    assert [h for h in hits if h.status != 200] == []  # not one failed request
    assert {h.body.split()[0] for h in hits} <= {first, second}
    status = json.loads(ok("edge", "status", "--json", cwd=shop.path))
    routes = {(r["app"], r["env"]): r for r in status["routes"]}
    assert status["running"] and len(routes[(shop.name, "site")]["servers"]) == 3
    assert routes[(shop.name, "site")]["urls"] == [f"http://shop.test:{port}/"]

    # every request through the edge, once: 2 pages + the load, 1 redirect; the blog's 1 page
    want = {"2xx": len(hits) + 2, "3xx": 1}
    deadline = time.monotonic() + 30
    while (counted := edge_requests(agent_url, shop.name, "site")) != want and time.monotonic() < deadline:
        time.sleep(0.5)  # counted when read (each forwarder turn)
    assert counted == want
    assert edge_requests(agent_url, blog.name, "site") == {"2xx": 1}
    buckets = re.findall(rf'dockyard_edge_upstream_seconds_count{{app="{shop.name}",env="site",[^}}]*}} ([0-9.]+)',
                         httpx.get(f"{agent_url}/metrics", timeout=5).text)
    assert buckets == [str(float(len(hits) + 2))]  # the redirect asked no upstream
    deadline = time.monotonic() + 30  # counted when read; stored a moment later
    while len(lines := json.loads(ok("logs", "site", "edge", "--json", "-n", "100000", cwd=shop.path))) < \
            len(hits) + 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(lines) == len(hits) + 3
    assert sum("GET shop.test/cgi-bin/release HTTP/1.1 200" in line["message"] for line in lines) == len(hits) + 2
    assert {(line["app"], line["env"], line["service"], line["container"]) for line in lines} == \
        {(shop.name, "site", "edge", "edge")}
    return hits


def test_a_name_another_app_holds_is_refused_with_file_line_and_owner(edge, tmp_path: Path,
                                                                      docker_client: docker.DockerClient) -> None:
    port, apps = edge
    shop, copycat = rolling_app(tmp_path, "shop.test", replicas=1), rolling_app(tmp_path, "shop.test", replicas=1)
    apps += [shop, copycat]
    for app in (shop, copycat):
        ok("build", cwd=app.path)
        ok("config", "set", "site", "GREETING=one", cwd=app.path)
    ok("deploy", "site", cwd=shop.path)
    refused = run_cli("deploy", "site", cwd=copycat.path)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    line = next(n for n, text in enumerate(copycat.spec_file.read_text().splitlines(), 1) if "domains:" in text)
    assert f"dockyard.yml:{line}: shop.test is already served by {shop.name}/site" in refused.stderr
    assert docker_client.containers.list(all=True, filters={"label": f"dockyard.app={copycat.name}"}) == []
    assert get(port, "shop.test").text.strip() == "ok"  # the owner still serves

    # nor a path of it (its pages would run in shop.test's origin), nor a name under it (issue 28)
    for claim, shown in (("    domains: [shop.test]\n    path: /admin\n", "shop.test/admin"),
                         ("    domains: [admin.shop.test]\n", "admin.shop.test")):
        spec = copycat.spec_file.read_text().split("    domains:")[0] + claim
        copycat.write("dockyard.yml", spec)
        copycat.commit(f"claim {shown}")
        ok("build", cwd=copycat.path)
        refused = run_cli("deploy", "site", cwd=copycat.path)
        assert refused.returncode != 0 and f"{shown} is already served by {shop.name}/site" in refused.stderr, \
            refused.stderr
        assert docker_client.containers.list(all=True, filters={"label": f"dockyard.app={copycat.name}"}) == []
    assert get(port, "shop.test", "/admin/").status_code == 404  # still shop's own answer, not the copycat's


def test_a_bad_name_is_refused_with_file_line(edge, tmp_path: Path) -> None:
    _, apps = edge
    app = rolling_app(tmp_path, "shop_test.example", replicas=1)
    apps.append(app)
    refused = run_cli("deploy", "site", cwd=app.path)
    assert refused.returncode == 2
    line = next(n for n, text in enumerate(app.spec_file.read_text().splitlines(), 1) if "domains:" in text)
    assert f"dockyard.yml:{line}: environments.site.domains[0]: 'shop_test.example' is not a hostname" in refused.stderr


def test_blue_green_through_the_edge_maintenance_and_down(edge, tmp_path: Path,
                                                          docker_client: docker.DockerClient) -> None:
    port, apps = edge
    app = make_app(tmp_path)
    live, preview = free_port(), free_port()
    app.write("dockyard.yml", bg_spec(app.name, live, preview) + "    domains: [bg.test]\n")
    app.write("www/cgi-bin/release", RELEASE_CGI)
    app.write("www/smoke", "smoke ok\n")
    app.commit("blue-green behind the edge")
    apps.append(app)
    ok("build", cwd=app.path)
    ok("config", "set", "production", "GREETING=v0", cwd=app.path)
    ok("deploy", "production", cwd=app.path)
    releases = [get(port, "bg.test", "/cgi-bin/release").text.strip()]
    load = Load(f"http://127.0.0.1:{port}/cgi-bin/release", threads=4, max_seconds=170,
                headers={"Host": "bg.test"}).start()
    try:
        for n in range(1, 3):
            ok("config", "set", "production", f"GREETING=v{n}", cwd=app.path)
            ok("deploy", "production", cwd=app.path)
            releases.append(get(port, "bg.test", "/cgi-bin/release").text.strip())
    finally:
        hits = load.stop()
    assert len({r.split()[0] for r in releases}) == 3
    assert [h for h in hits if h.status != 200][:3] == []
    assert {h.body for h in hits} <= set(releases)  # only what went live answered
    assert get(port, "preview.bg.test", "/cgi-bin/release").text.strip() != releases[-1]  # the previous colour

    # maintenance: the names answer 503 with the page; the health path and the preview name reach the app
    on = json.loads(ok("maintenance", "on", "production", "--message", 'Back <soon> "$host"', "--json", cwd=app.path))
    assert check("maintenance.schema.json", on)["maintenance"] is True
    down = get(port, "bg.test", "/cgi-bin/release")
    assert down.status_code == 503 and down.headers["retry-after"] == "120"
    assert "Back &lt;soon&gt; &quot;$host&quot;" in down.text  # no variable expanded
    assert get(port, "bg.test", "/health").text.strip() == "ok"
    assert get(port, "preview.bg.test", "/cgi-bin/release").status_code == 200
    ok("config", "set", "production", "GREETING=v9", cwd=app.path)
    ok("deploy", "production", cwd=app.path)  # a deploy keeps it in maintenance
    assert get(port, "bg.test", "/cgi-bin/release").status_code == 503
    ok("maintenance", "off", "production", cwd=app.path)
    assert get(port, "bg.test", "/cgi-bin/release").status_code == 200

    # down: asked for unless --yes; then nothing of it answers or runs, and its history stays
    asked = run_cli("down", "production", cwd=app.path)
    assert asked.returncode == 2 and "confirm with --yes" in asked.stderr
    out = ok("down", "production", "--yes", cwd=app.path)
    assert "its names are off the edge" in out and "its balancer is stopped and removed" in out
    assert "edge: no route left; HAProxy stopped" in out  # nothing listens with no route (issue 27)
    with pytest.raises(httpx.ConnectError):
        get(port, "bg.test")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{live}/", timeout=2)
    assert docker_client.containers.list(all=True, filters={"label": f"dockyard.app={app.name}"}) == []
    assert json.loads(ok("releases", "production", "--json", cwd=app.path))[0]["status"] == "down"

"""The edge over HTTPS under load (issue 15): a rolling deploy of 3 replicas and 5 blue-green
releases (one failing its health check), with a certificate renewal in between, while 4 clients
request through the edge's HTTPS port with the ACME test CA's certificate checked. Every request
is counted: none may fail, none may be answered by a release that failed its checks."""

from __future__ import annotations

import ssl
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
from tests.integration.bluegreen.load import Load
from tests.integration.edge.pebble import Pebble, https_get
from tests.ports import free_port

pytestmark = pytest.mark.e2e


def ok(*args: str, cwd: Path | None = None) -> str:
    result = run_cli(*args, cwd=cwd)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def edge(dockyard_env: Path, docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[tuple]:
    http, https = free_port(), free_port()
    pebble = Pebble(tmp_path / "pebble", http_port=http).start()
    ok("edge", "configure", "--address", "127.0.0.1", "--http-port", str(http), "--https-port", str(https),
       "--acme-directory", pebble.directory, "--acme-ca-bundle", str(pebble.ca_bundle))
    apps: list[TestApp] = []
    try:
        yield pebble, https, apps
    finally:
        for app in apps:
            NginxRouter(app.name, "production", home=dockyard_env).stop(timeout=5)
            remove_app_resources(docker_client, app.name)
        Edge(home=dockyard_env).stop(timeout=5)
        pebble.stop()


def release_at(https: int, name: str, roots: Path) -> str:
    """What answers NAME through the edge's HTTPS port, its certificate checked."""
    with httpx.Client(verify=ssl.create_default_context(cafile=str(roots)), timeout=5) as client:
        response = client.get(f"https://127.0.0.1:{https}/cgi-bin/release", headers={"Host": name},
                              extensions={"sni_hostname": name})
    assert response.status_code == 200, response.text
    return response.text.strip()


def load(https: int, name: str, roots: Path) -> Load:
    return Load(f"https://127.0.0.1:{https}/cgi-bin/release", threads=4, max_seconds=170, headers={"Host": name},
                verify=ssl.create_default_context(cafile=str(roots)), sni=name).start()


def test_rolling_and_blue_green_releases_and_a_renewal_over_https_lose_nothing(edge, tmp_path: Path) -> None:
    pebble, https, apps = edge
    env = "  site:\n    engine: local\n    registry: local\n    domains: [roll.test]\n    tls: acme\n"
    rolling = make_app(tmp_path, replicas=3, extra_envs=env)
    rolling.write("www/cgi-bin/release", RELEASE_CGI)
    rolling.commit("a release page")
    apps.append(rolling)
    ok("build", cwd=rolling.path)
    ok("config", "set", "site", "GREETING=one", cwd=rolling.path)
    ok("deploy", "site", cwd=rolling.path)
    roots = pebble.roots()
    first = https_get(https, "roll.test", "/cgi-bin/release", roots)
    assert first.status == 200

    ok("config", "set", "site", "GREETING=two", cwd=rolling.path)
    running = load(https, "roll.test", roots)
    try:
        ok("deploy", "site", cwd=rolling.path)  # 3 replicas, one at a time, switched at the edge
        ok("edge", "configure", "--renew-before-days", "100000")
        ok("edge", "renew")  # a new certificate, loaded by a graceful reload under the same load
        ok("edge", "configure", "--renew-before-days", "30")
    finally:
        hits = running.stop()
    assert len(hits) > 100 and [h for h in hits if h.status != 200][:3] == []
    renewed = https_get(https, "roll.test", "/cgi-bin/release", roots)
    assert renewed.cert.serial_number != first.cert.serial_number

    bg = make_app(tmp_path)
    live, preview = free_port(), free_port()
    bg.write("dockyard.yml", bg_spec(bg.name, live, preview) + "    domains: [bg.test]\n    tls: acme\n")
    bg.write("www/cgi-bin/release", RELEASE_CGI)
    bg.write("www/smoke", "smoke ok\n")
    bg.commit("blue-green behind the edge")
    apps.append(bg)
    ok("build", cwd=bg.path)
    ok("config", "set", "production", "GREETING=v0", cwd=bg.path)
    ok("deploy", "production", cwd=bg.path)
    released = {release_at(https, "bg.test", roots)}
    running = load(https, "bg.test", roots)
    try:
        for n in range(1, 6):
            if n == 3:  # a release whose health check fails: it never serves
                (bg.path / "www/health").unlink()
                bg.commit("no health")
                ok("build", cwd=bg.path)
                assert run_cli("deploy", "production", cwd=bg.path).returncode == 1
                bg.write("www/health", "ok\n")
                bg.commit("health again")
                ok("build", cwd=bg.path)
            ok("config", "set", "production", f"GREETING=v{n}", cwd=bg.path)
            ok("deploy", "production", cwd=bg.path)
            released.add(release_at(https, "bg.test", roots))
    finally:
        hits = running.stop()
    assert len(hits) > 100
    assert [h for h in hits if h.status != 200][:3] == []
    assert {h.body for h in hits} <= released  # only releases that passed their checks answered
    assert len(released) == 6

"""Pull request previews end to end (issue 33), with a real `dockyard server`, edge, ACME CA and Redis.

A signed GitHub `pull_request` opened event for an app whose default branch says
`previews: {from: staging, domain: "pr-{number}.preview.test", data: snapshot}`: the preview
answers over HTTPS (pebble's certificate checked) with the pull request's code and the data of the
latest backup of staging's Redis. A `synchronize` updates it under load with no failed request.
`closed` removes everything of pr-7: containers, volumes, network, the edge's name, the certificate,
the configuration. A local receiver records the commit statuses: pending, then success with the URL.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.conftest import remove_app_resources
from tests.datastores import redis_app
from tests.integration.bluegreen.load import Load
from tests.integration.edge.pebble import Pebble
from tests.integration.server.conftest import Server
from tests.integration.server.previews import Receiver, preview_site, pull_request, push_pull, send
from tests.ports import free_port

pytestmark = pytest.mark.e2e

PREVIEWS = 'previews: {from: staging, domain: "pr-{number}.preview.test", ttl: 1h, max: 3, data: snapshot}\n'


@pytest.fixture
def site(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[tuple[Server, Pebble, int, Receiver]]:
    http, https = free_port(), free_port()
    pebble = Pebble(tmp_path / "pebble", http_port=http).start()
    try:
        with preview_site(tmp_path, ["--http-port", str(http), "--https-port", str(https), "--acme-directory",
                                     pebble.directory, "--acme-ca-bundle", str(pebble.ca_bundle)],
                          "  github:\n    url: '{receiver}/repos/{repo}/statuses/{sha}'\n"
                          "    token: status-token\n") as (server, receiver):
            yield server, pebble, https, receiver
    finally:
        pebble.stop()


def wait_state(server: Server, app: str, number: int, states: tuple[str, ...], timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = json.loads(server.cli("preview", "ls", "--json", cwd=server_cwd[app]).stdout)
        row = next((r for r in rows if r["number"] == number), None)
        if row is not None and row["state"] in states:
            return dict(row)
        time.sleep(1)
    raise AssertionError(f"pr-{number} not {states} after {timeout} s: {row}\n"
                         + Path(server.log).read_text()[-4000:])


server_cwd: dict[str, Path] = {}


def answer(https: int, name: str, path: str, roots: Path) -> str:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(roots)), timeout=10) as client:
        got = client.get(f"https://127.0.0.1:{https}{path}", headers={"Host": name}, extensions={"sni_hostname": name})
    assert got.status_code == 200, (path, got.status_code, got.text)
    return got.text.strip()


def test_a_pull_request_gets_a_preview_over_https_with_staging_data_updated_without_loss_then_removed(
        site: tuple[Server, Pebble, int, Receiver], tmp_path: Path, docker_client: docker.DockerClient) -> None:
    server, pebble, https, receiver = site
    app = redis_app(tmp_path / "apps")
    spec = app.spec_file.read_text().replace(
        "  staging: {engine: local, registry: remote, strategy: recreate, tests: [smoke], promote: manual}",
        "  staging: {engine: local, registry: remote, tests: [smoke], promote: manual, domains: [staging.preview.test],"
        " tls: acme}")
    app.write("dockyard.yml", spec + PREVIEWS)
    app.commit("previews of pull requests")
    bare = tmp_path / f"{app.name}.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(app.path), str(bare)], check=True)
    server_cwd[app.name] = app.path
    try:
        server.cli("app", "add", app.name, "--repo", str(bare))
        server.cli("config", "set", "staging", "GREETING=from-staging", cwd=app.path)
        server.cli("secret", "set", "staging", "DB_TOKEN", cwd=app.path, input="staging-token-value")
        server.cli("accessory", "boot", "staging", "db", cwd=app.path)
        db = docker_client.containers.get(f"{app.name}_staging_db")
        assert db.exec_run(["redis-cli", "SET", "seeded", "from-the-staging-backup"]).exit_code == 0
        server.cli("backup", "create", "staging", "db", cwd=app.path)
        db.exec_run(["redis-cli", "SET", "seeded", "after-the-backup"])  # not in the snapshot
        server.start()

        app.git("checkout", "-q", "-b", "feature")
        first = push_pull(app, bare, 7, "pull request seven, first\n")
        queued = send(server, pull_request(app, bare, "opened", 7, first))
        assert [r["preview"] for r in queued["runs"]] == ["pr-7"], queued
        row = wait_state(server, app.name, 7, ("ready", "failed"))
        assert row["state"] == "ready", json.dumps(row)
        roots = pebble.roots()
        assert answer(https, "pr-7.preview.test", "/", roots) == "pull request seven, first"
        assert answer(https, "pr-7.preview.test", "/cgi-bin/get?seeded", roots) == "from-the-staging-backup"
        url = f"https://pr-7.preview.test:{https}/"
        assert row["url"] == url and row["trusted"] is True
        assert receiver.states(first) == [("pending", ""), ("success", url)]
        assert {auth for _, _, auth in receiver.seen} == {"Bearer status-token"}

        # an update under load: every request answered, by the first commit then the second
        second = push_pull(app, bare, 7, "pull request seven, second\n")
        load = Load(f"https://127.0.0.1:{https}/", threads=4, max_seconds=200, headers={"Host": "pr-7.preview.test"},
                    verify=ssl.create_default_context(cafile=str(roots)), sni="pr-7.preview.test").start()
        try:
            send(server, pull_request(app, bare, "synchronize", 7, second))
            time.sleep(2)
            wait_state(server, app.name, 7, ("ready", "failed"))
            time.sleep(1)
        finally:
            hits = load.stop()
        assert hits and all(h.status == 200 for h in hits), [h for h in hits if h.status != 200][:5]
        assert hits[-1].body.strip() == "pull request seven, second"
        assert receiver.states(second) == [("pending", ""), ("success", url)]

        # closed: nothing of pr-7 is left
        send(server, pull_request(app, bare, "closed", 7, second))
        assert wait_state(server, app.name, 7, ("closed", "failed"))["state"] == "closed"
        labels = [f"dockyard.app={app.name}", "dockyard.env=pr-7"]
        assert docker_client.containers.list(all=True, filters={"label": labels}) == []
        assert docker_client.volumes.list(filters={"label": labels}) == []
        assert [n.name for n in docker_client.networks.list() if n.name.startswith(f"{app.name}_pr-7")] == []
        edge = Path(server.env["DOCKYARD_HOME"]) / "edge"
        assert not any("pr-7" in p.name for p in (edge / "routes").glob("*.json"))
        assert not any("pr-7" in p.name for p in (edge / "certs").glob("*"))
        assert json.loads(server.cli("config", "ls", "pr-7", "--json", cwd=app.path).stdout)["values"] == {}
    finally:
        server.stop()
        remove_app_resources(docker_client, app.name)

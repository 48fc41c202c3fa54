"""`dockyard rollback` forwarded to a running `dockyard server` (DOCKYARD_SERVER): the real server,
engine and nginx. The release is recorded as done by the token's name, which only the server does."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_cli
from tests.integration.bluegreen.test_bluegreen_cli import ok, served
from tests.integration.server.conftest import Server

pytestmark = pytest.mark.integration


def releases() -> list[dict]:
    return json.loads(ok("releases", "production", "--json"))


def test_rollback_through_the_server_and_its_refusals(bg_app, tmp_path: Path) -> None:
    app, live, _ = bg_app
    ok("build")
    ok("config", "set", "production", "GREETING=one")
    ok("deploy", "production")
    first = served(live)
    ok("config", "set", "production", "GREETING=two")
    ok("deploy", "production")
    second = served(live)
    ok("app", "add", app.name, "--repo", str(app.path))  # the server reads the spec of its default branch
    server = Server(env={}, log=tmp_path / "server.log")
    token_file = tmp_path / "token"
    token_file.write_text(ok("token", "create", "--name", "ops-oncall", "--scope", "deploy", "--env", "production"))
    token_file.chmod(0o600)
    remote = {"DOCKYARD_SERVER": server.url, "DOCKYARD_TOKEN_FILE": str(token_file)}
    server.start()
    try:
        rolled = run_cli("rollback", "production", env=remote)
        assert rolled.returncode == 0, rolled.stderr
        assert f"rolled back by the dockyard server at {server.url}" in rolled.stdout
        assert "no container was started" in rolled.stdout
        assert served(live) == first
        assert releases()[0]["actor"] == "ops-oncall"  # recorded by the server, as the token's name

        again = run_cli("rollback", "production", "--json", env=remote)
        assert again.returncode == 0, again.stderr
        assert served(live) == second and json.loads(again.stdout)["release_id"] == second.split()[0]

        # A wrong token, or none: refused by name, nothing switched, no fallback to a local rollback.
        wrong = run_cli("rollback", "production", env={**remote, "DOCKYARD_TOKEN_FILE": "",
                                                       "DOCKYARD_TOKEN": "dy_not-a-token"})
        assert wrong.returncode == 1 and "invalid, expired or revoked token" in wrong.stderr
        missing = run_cli("rollback", "production", env={"DOCKYARD_SERVER": server.url, "DOCKYARD_TOKEN_FILE": ""})
        assert missing.returncode == 2 and "no token" in missing.stderr
        assert "Traceback" not in wrong.stderr + missing.stderr
        assert served(live) == second and len(releases()) == 4

        # What the endpoint refuses. No request names a file of the server (issue 12, finding 1): a
        # spec_file in the body is not read, whether the host's passwd file or another branch's spec
        # that defines an environment of its own.
        evil = tmp_path / "branch.yml"
        evil.write_text(app.spec_file.read_text() + "  evil: {engine: local, registry: local}\n")
        with server.client(token_file.read_text().strip()) as client:
            base = f"/api/apps/{app.name}/environments"
            passwd = client.post("/api/apps/other-app/environments/production/rollback",
                                 json={"spec_file": "/etc/passwd"})
            branch = client.post(f"{base}/evil/rollback", json={"spec_file": str(evil)})
            unknown = client.post(f"{base}/nowhere/rollback")
        assert passwd.status_code == 404 and "root:" not in passwd.text and "other-app" in passwd.json()["error"]
        # the token's scope is deploy:production: other environments are refused before anything is read
        assert branch.status_code == 403 and "deploy:evil" in branch.json()["error"]
        assert unknown.status_code == 403 and "deploy:nowhere" in unknown.json()["error"]
        admin = ok("token", "create", "--name", "ops-admin", "--scope", "admin").strip()
        with server.client(admin) as client:
            branch = client.post(f"{base}/evil/rollback", json={"spec_file": str(evil)})
        assert branch.status_code in (400, 404) and "evil" in branch.json()["error"]
        assert served(live) == second
    finally:
        server.stop()

    # No server answers: the command says so and rolls back in its own process.
    local = run_cli("rollback", "production", env=remote)
    assert local.returncode == 0, local.stderr
    assert "cannot be reached" in local.stderr and "rolled back by" not in local.stdout
    assert served(live) == first and releases()[0]["actor"] == "tester"
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/health", timeout=1)

"""Issue 12's attacks against a real `dockyard server`, engine and git remote: each asserts the refusal
and that nothing was applied. Scopes, four eyes, the body cap, replayed webhooks, a branch that
widens its own path, a commit on the wrong branch, file modes and the audit log's chain."""

from __future__ import annotations

import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.conftest import run_cli
from tests.integration.server.conftest import SECRET, ServedApp, Server, serving
from tests.private_home import open_to_others
from tests.unit.server.payloads import body_of, github_push, signed_headers

pytestmark = pytest.mark.integration

PIPELINE = """\
pipeline:
  branches: {main: [testing, staging], "feature/*": [testing]}
"""


@pytest.fixture(scope="module")
def served(server_factory: Server, tmp_path_factory: pytest.TempPathFactory,
           docker_client_module: docker.DockerClient) -> Iterator[tuple[Server, ServedApp]]:
    with serving(server_factory, tmp_path_factory.mktemp("apps"), docker_client_module,
                 {"testing: {engine: local, registry: local, tests: [unit, smoke]}":
                  "testing: {engine: local, registry: local, tests: [unit], promote: manual}",
                  "replicas: 2": "replicas: 1"}, PIPELINE) as served_app:
        yield served_app


def token(server: Server, name: str, *args: str) -> str:
    return server.cli("token", "create", "--name", name, *args).stdout.strip()


def runs(server: Server, app: ServedApp) -> list[dict]:
    with server.client() as client:
        return client.get("/api/runs", params={"app": app.app.name}).json()


def github(server: Server, app: ServedApp, branch: str, sha: str, headers: dict[str, str] | None = None
           ) -> httpx.Response:
    body = body_of(github_push(f"file://{app.bare}", f"git@github.example.invalid:acme/{app.app.name}.git",
                               f"acme/{app.app.name}", branch, sha))
    return httpx.post(f"{server.url}/hooks/github", content=body,
                      headers=headers or signed_headers("github", SECRET, body), timeout=60)


def test_each_endpoint_checks_its_tokens_scope(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    trigger = token(server, "sec-trigger", "--scope", "trigger")
    staging = token(server, "sec-deploy-staging", "--scope", "deploy", "--env", "staging")
    reader = token(server, "sec-read", "--scope", "read")
    base = f"/api/apps/{app.app.name}/environments"
    with server.client(trigger) as client:
        assert client.post(f"{base}/testing/rollback").status_code == 403
        assert client.get("/api/audit").status_code == 403
        assert client.get(f"/api/apps/{app.app.name}/releases/testing").status_code == 200  # every scope reads
    with server.client(staging) as client:
        refused = client.post(f"{base}/production/rollback")
        assert refused.status_code == 403 and "deploy:production" in refused.json()["error"]
    with server.client(reader) as client:
        assert client.post("/api/runs", json={"app": app.app.name, "branch": "main"}).status_code == 403
        assert client.post("/api/runs/1/approve").status_code == 403
    assert runs(server, app) == []  # nothing was started
    with server.client() as client:  # the admin token reads the audit log, refusals included
        audit = client.get("/api/audit").json()
    refusals = [(r["actor"], r["outcome"]) for r in audit["rows"] if r["outcome"].startswith("refused")]
    assert ("sec-trigger", "refused: no deploy:testing scope") in refusals
    assert ("sec-deploy-staging", "refused: no deploy:production scope") in refusals
    assert audit["problems"] == []


def test_an_expired_token_gets_401(served: tuple[Server, ServedApp]) -> None:
    server, _ = served
    short = token(server, "sec-short", "--scope", "read", "--expires", "1m")
    with server.client(short) as client:
        assert client.get("/api/apps").status_code == 200
    db = Path(server.env["DOCKYARD_HOME"]) / "state.db"
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("UPDATE tokens SET expires_at=? WHERE name='sec-short'", (time.time() - 1,))
    conn.commit()
    conn.close()
    with server.client(short) as client:
        expired = client.get("/api/apps")
    assert expired.status_code == 401 and "expired" in expired.json()["error"]


def test_a_token_cannot_approve_the_run_it_started(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    starter = token(server, "sec-starter", "--scope", "trigger", "--scope", "approve")
    other = token(server, "sec-approver", "--scope", "approve")
    with server.client(starter) as client:
        created = client.post("/api/runs", json={"app": app.app.name, "branch": "main"})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    assert created.json()["actor"] == "sec-starter"
    assert server.wait_run(run_id)["status"] == "waiting"
    with server.client(starter) as client:
        own = client.post(f"/api/runs/{run_id}/approve")
    assert own.status_code == 403 and "four eyes" in own.json()["error"]
    with server.client() as client:
        assert client.get(f"/api/runs/{run_id}").json()["status"] == "waiting"  # nothing moved
        rows = client.get("/api/audit").json()["rows"]
    # the worker's deploy is in the audit log under the run, the refused approval under the token
    assert any(r["actor"] == f"pipeline run {run_id}" and r["action"] == "deploy" and r["outcome"] == "ok"
               and r["target"] == f"{app.app.name}/testing" for r in rows)
    assert any(r["actor"] == "sec-starter" and r["action"] == "run approve" and "four eyes" in r["outcome"]
               for r in rows)
    with server.client(other) as client:
        approved = client.post(f"/api/runs/{run_id}/approve")
        assert approved.status_code == 200, approved.text
        client.post(f"/api/runs/{run_id}/cancel")  # approve scope may cancel; the rest is not needed here


def test_a_huge_body_gets_413_before_it_is_read(served: tuple[Server, ServedApp]) -> None:
    server, _ = served
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 104857600\r\n\r\n" + b"{" * 65536)
        answer = sock.recv(4096).decode(errors="replace")  # answered with 99.9 MB still unsent
    assert answer.startswith("HTTP/1.1 413"), answer


def test_a_replayed_webhook_queues_nothing(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    sha = app.push("replay me")
    body = body_of(github_push(f"file://{app.bare}", "", f"acme/{app.app.name}", "main", sha))
    headers = signed_headers("github", SECRET, body)
    first = httpx.post(f"{server.url}/hooks/github", content=body, headers=headers, timeout=60)
    assert first.status_code == 202 and first.json()["runs"][0]["run"]
    replay = httpx.post(f"{server.url}/hooks/github", content=body, headers=headers, timeout=60)
    assert replay.status_code == 200 and replay.json()["skipped"][0]["reason"] == "duplicate"
    assert "received before" in replay.json()["skipped"][0]["message"]
    queued = [r for r in runs(server, app) if r["commit_sha"] == sha]
    assert len(queued) == 1
    with server.client() as client:
        client.post(f"/api/runs/{queued[0]['id']}/cancel")


def test_a_branch_cannot_widen_its_own_path_nor_claim_another_branch(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    # feature/evil's own dockyard.yml says: every branch goes everywhere, promoted automatically
    app.app.git("checkout", "-q", "-b", "feature/evil")
    spec = app.app.spec_file.read_text().replace('"feature/*": [testing]',
                                                 '"feature/*": [testing, staging, production]')
    spec = spec.replace("promote: manual", "promote: auto")
    app.app.write("dockyard.yml", spec)
    evil = app.app.commit("widen my own path")
    app.app.git("push", "-q", str(app.bare), "feature/evil")
    app.app.git("checkout", "-q", "main")
    pushed = github(server, app, "feature/evil", evil)
    assert pushed.status_code == 202, pushed.text
    run_id = pushed.json()["runs"][0]["run"]
    with server.client() as client:
        run = client.get(f"/api/runs/{run_id}").json()
        client.post(f"/api/runs/{run_id}/cancel")
    assert {s["env"] for s in run["steps"]} == {None, "testing"}  # main's policy: feature/* reaches testing only
    # the same commit claimed as main: refused, it is not on main
    claimed = github(server, app, "main", evil)
    assert claimed.status_code == 403 and "not on branch 'main'" in claimed.json()["error"]
    with server.client() as client:
        by_api = client.post("/api/runs", json={"app": app.app.name, "branch": "main", "commit": evil})
    assert by_api.status_code == 403
    assert len([r for r in runs(server, app) if r["commit_sha"] == evil]) == 1


def test_home_and_its_files_are_private(served: tuple[Server, ServedApp]) -> None:
    server, _ = served
    home = Path(server.env["DOCKYARD_HOME"])
    server.cli("engine", "add", "sec-engine", "--host", "unix:///var/run/docker.sock")  # writes settings.yml
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("state.db", "config.db", "settings.yml", "server.pid"):
        assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
    # after runs that built and deployed: the locks, the mirror, the exports, what the server wrote
    assert (home / "locks").is_dir() and (home / "work").is_dir()
    assert open_to_others(home) == []
    server.cli("engine", "rm", "sec-engine")


def test_cli_changes_are_audited_and_tampering_is_detected(served: tuple[Server, ServedApp], tmp_path: Path) -> None:
    server, app = served
    server.cli("config", "set", "testing", "AUDITED_KEY=value-not-logged", cwd=app.app.path)
    refused = run_cli("config", "set", "testing", "--secret", "PW=hunter2", cwd=app.app.path, env=server.env)
    assert refused.returncode == 2 and "pipe its value in" in refused.stderr and "hunter2" not in refused.stderr
    piped = run_cli("config", "set", "testing", "PIPED_PW", "--secret", cwd=app.app.path, env=server.env,
                    input="from-stdin-91")
    assert piped.returncode == 0 and "secret PIPED_PW set" in piped.stdout, piped.stderr
    rows = server.cli("audit", "--json").stdout
    assert "AUDITED_KEY" in rows and "value-not-logged" not in rows and "hunter2" not in rows
    assert '"action": "config set"' in rows and '"source": "cli"' in rows
    assert server.cli("audit", "verify").stdout.startswith("audit log whole")
    import sqlite3

    conn = sqlite3.connect(Path(server.env["DOCKYARD_HOME"]) / "state.db")
    conn.execute("UPDATE audit SET outcome='ok' WHERE outcome LIKE 'refused%'")
    conn.commit()
    conn.close()
    broken = run_cli("audit", "verify", env=server.env)
    assert broken.returncode == 1 and "was changed after it was written" in broken.stderr

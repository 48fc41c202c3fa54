"""`dockyard server` for real: tokens, webhooks of the three providers, runs, SSE, approval, polling."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.integration.server.conftest import SECRET, ServedApp, Server, serving
from tests.unit.server.payloads import body_of, gitea_push, github_push, gitlab_push, signed_headers

pytestmark = pytest.mark.integration

PIPELINE = """\
pipeline:
  branches: {main: [testing, staging], "provider/*": [testing, staging]}
  poll: 1s
"""


@pytest.fixture(scope="module")
def served(server_factory: Server, tmp_path_factory: pytest.TempPathFactory,
           docker_client_module: docker.DockerClient) -> Iterator[tuple[Server, ServedApp]]:
    with serving(server_factory, tmp_path_factory.mktemp("apps"), docker_client_module,
                 {"testing: {engine: local, registry: local, tests: [unit, smoke]}":
                  "testing: {engine: local, registry: local, tests: [unit, smoke], promote: manual}",
                  "replicas: 2": "replicas: 1"}, PIPELINE) as served_app:
        yield served_app


def hook(server: Server, provider: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/hooks/{provider}", content=body, headers=headers, timeout=60)


def github_body(served_app: ServedApp, sha: str) -> bytes:
    name = served_app.app.name
    return body_of(github_push(f"file://{served_app.bare}", f"git@github.example.invalid:acme/{name}.git",
                               f"acme/{name}", "main", sha))


def test_health_is_open_and_the_api_needs_a_valid_token(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    assert httpx.get(server.url + "/health").json()["status"] == "ok"
    for token in ("", "dy_wrong"):
        with server.client(token) as client:
            for path in ("/api/apps", "/api/runs", f"/api/apps/{app.app.name}/config/testing"):
                response = client.get(path)
                assert response.status_code == 401, path
                assert "error" in response.json()
            assert client.post("/api/runs", json={"app": app.app.name, "branch": "main"}).status_code == 401
    with server.client() as client:
        apps = client.get("/api/apps").json()
        assert [a["name"] for a in apps] == [app.app.name]
        assert client.get("/api/runs/999").json() == {"error": "run 999 does not exist", "hint": "dockyard pipeline ls"}
        assert client.get("/api/runs/999").status_code == 404


def test_config_masks_secrets_and_environments_come_from_the_spec(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    server.cli("secret", "set", "testing", "DB_PASSWORD", cwd=app.app.path, input="pw-never-shown")
    with server.client() as client:
        config = client.get(f"/api/apps/{app.app.name}/config/testing")
        envs = client.get(f"/api/apps/{app.app.name}/environments").json()
    assert config.status_code == 200
    assert config.json()["values"]["GREETING"] == "hi"
    assert config.json()["values"]["DB_PASSWORD"] == "***" and config.json()["secrets"] == ["DB_PASSWORD"]
    assert "pw-never-shown" not in config.text
    assert [(e["name"], e["engine"], e["strategy"], e["promote"]) for e in envs["environments"]] == [
        ("testing", "local", "rolling", "manual"), ("staging", "local", "recreate", "manual"),
        ("production", "local", "rolling", "auto")]
    assert envs["commit"] == app.app.git("rev-parse", "HEAD")


def test_unsigned_wrongly_signed_and_malformed_webhooks_start_nothing(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    body = github_body(app, app.app.git("rev-parse", "HEAD"))
    for provider in ("github", "gitlab", "gitea"):
        assert hook(server, provider, body, {"X-GitHub-Event": "push", "X-Gitlab-Event": "Push Hook",
                                             "X-Gitea-Event": "push"}).status_code == 401
        wrong = signed_headers(provider, "not-the-secret", body)
        response = hook(server, provider, body, wrong)
        assert response.status_code == 401 and "signature" in response.json()["error"]
    assert hook(server, "github", b"{not json", signed_headers("github", SECRET, b"{not json")).status_code == 400
    no_ref = json.dumps({"after": "a" * 40, "repository": {"name": app.app.name}}).encode()
    assert hook(server, "gitea", no_ref, signed_headers("gitea", SECRET, no_ref)).status_code == 400
    ping = hook(server, "github", body, signed_headers("github", SECRET, body, event="ping"))
    assert ping.status_code == 202 and "not a push" in ping.json()["ignored"]
    with server.client() as client:
        assert client.get("/api/runs").json() == []


def follow_events(server: Server, run_id: int, into: list[tuple[str, dict]]) -> None:
    with server.client() as client, client.stream("GET", f"/api/runs/{run_id}/events", timeout=120) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                into.append((event, json.loads(line.removeprefix("data: "))))


def test_github_push_runs_to_the_gate_with_events_then_api_approval(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    sha = app.app.git("rev-parse", "HEAD")
    body = github_body(app, sha)
    response = hook(server, "github", body, signed_headers("github", SECRET, body))
    assert response.status_code == 202, response.text
    [queued] = response.json()["runs"]
    assert (queued["app"], queued["commit"], queued["branch"]) == (app.app.name, sha, "main")
    run_id = queued["run"]
    events: list[tuple[str, dict]] = []
    follower = threading.Thread(target=follow_events, args=(server, run_id, events))
    follower.start()
    run = server.wait_run(run_id)
    follower.join(30)
    assert not follower.is_alive()
    assert run["status"] == "waiting" and run["trigger"] == "github"
    kinds = [e for e, _ in events]
    assert kinds[-1] == "end" and events[-1][1]["status"] == "waiting"
    assert ("step", "succeeded") in [(e, d.get("status")) for e, d in events if e == "step"]
    assert any(e == "output" and "smoke ok" in d["line"] for e, d in events)
    with server.client() as client:
        approved = client.post(f"/api/runs/{run_id}/approve")
        assert approved.status_code == 200, approved.text
        gate = next(s for s in approved.json()["steps"] if s["kind"] == "gate")
        assert gate["approved_by"] == "tester-token"
        assert client.post(f"/api/runs/{run_id}/approve").status_code == 409
    run = server.wait_run(run_id, until=("succeeded",))
    assert [s["status"] for s in run["steps"]] == ["succeeded"] * len(run["steps"])
    with server.client() as client:
        releases = client.get(f"/api/apps/{app.app.name}/releases/staging").json()
        output = client.get(f"/api/runs/{run_id}/steps/0/output").json()
    assert releases[0]["status"] == "live" and releases[0]["commit_sha"] == sha
    assert "built" in output["output"] or "reused" in output["output"]


@pytest.mark.parametrize("provider", ["gitlab", "gitea"])
def test_gitlab_and_gitea_pushes_start_runs_that_can_be_cancelled(served: tuple[Server, ServedApp],
                                                                  provider: str) -> None:
    server, app = served
    sha = app.app.git("rev-parse", "HEAD")
    name = app.app.name
    # main's push of this commit ran already (a second one would be a duplicate): a branch of its own
    branch = f"provider/{provider}"
    app.app.git("push", "-q", str(app.bare), f"HEAD:refs/heads/{branch}")
    if provider == "gitlab":  # matched by the repository's name: the bare repo is <name>.git
        payload = gitlab_push(f"http://gitlab.example.invalid/team/{name}.git",
                              f"git@gitlab.example.invalid:team/{name}.git", f"team/{name}", branch, sha)
    else:
        payload = gitea_push(f"http://gitea.example.invalid/team/{name}.git",
                             f"git@gitea.example.invalid:team/{name}.git", f"team/{name}", branch, sha)
    body = body_of(payload)
    response = hook(server, provider, body, signed_headers(provider, SECRET, body))
    assert response.status_code == 202, response.text
    run_id = response.json()["runs"][0]["run"]
    run = server.wait_run(run_id)  # the same commit: the image is reused
    assert run["trigger"] == provider and run["status"] == "waiting"
    with server.client() as client:
        cancelled = client.post(f"/api/runs/{run_id}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["error"] == "cancelled by tester-token"


def test_manual_run_by_api_and_its_errors(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    with server.client() as client:
        assert client.post("/api/runs", json={"app": "nope", "branch": "main"}).status_code == 404
        assert client.post("/api/runs", json={"app": app.app.name, "branch": "nobranch"}).status_code == 404
        assert client.post("/api/runs", json={"branch": "main"}).status_code == 400
        created = client.post("/api/runs", json={"app": app.app.name, "branch": "main"})
        assert created.status_code == 201, created.text
        assert created.json()["trigger"] == "api" and created.json()["status"] == "queued"
        run_id = created.json()["id"]
    server.wait_run(run_id)
    with server.client() as client:
        client.post(f"/api/runs/{run_id}/cancel")
        assert client.post(f"/api/runs/{run_id}/cancel").status_code == 409


def test_polling_picks_up_a_pushed_commit(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    sha = app.push("v2 by poll")
    deadline = time.monotonic() + 30
    with server.client() as client:
        while time.monotonic() < deadline:
            polled = [r for r in client.get("/api/runs", params={"app": app.app.name}).json()
                      if r["trigger"] == "poll"]
            if polled:
                break
            time.sleep(0.3)
    assert polled, "the poller queued no run"
    assert polled[0]["commit_sha"] == sha and polled[0]["branch"] == "main"
    assert server.wait_run(polled[0]["id"])["status"] == "waiting"


def test_sigterm_stops_the_server_and_removes_its_pid_file(served: tuple[Server, ServedApp]) -> None:
    server, _ = served
    pid_file = Path(server.env["DOCKYARD_HOME"]) / "server.pid"
    assert pid_file.read_text().strip() == str(server.proc.pid if server.proc else "")
    assert server.stop() == 0
    assert not pid_file.exists()
    server.start()  # the module's fixture stops it again

"""Issue 28's webhook replay and smaller findings against a real `dockyard server` and git remote:
each attack asserts the refusal and that nothing was applied. A captured push sent again under a
new delivery id, a spoofed X-Forwarded-For, a log-in flood, piled-up sessions, a form with too
many fields, and errors that would show the server's paths."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.integration.server.conftest import SECRET, ServedApp, Server, serving
from tests.unit.server.payloads import body_of, gitea_push, github_push, signed_headers

pytestmark = pytest.mark.integration

PIPELINE = """\
pipeline:
  branches: {main: [testing], "feature/*": [testing]}
"""
LOGIN_WINDOW = 3  # seconds: the log-in flood's audit row is written when its window ends


def write_settings(server: Server, text: str) -> None:
    path = Path(server.env["DOCKYARD_HOME"]) / "settings.yml"
    path.write_text(text)
    path.chmod(0o600)


@pytest.fixture(scope="module")
def served(server_factory: Server, tmp_path_factory: pytest.TempPathFactory,
           docker_client_module: docker.DockerClient) -> Iterator[tuple[Server, ServedApp]]:
    write_settings(server_factory, f"server: {{login_window_s: {LOGIN_WINDOW}}}\n")
    with serving(server_factory, tmp_path_factory.mktemp("apps"), docker_client_module,
                 {"testing: {engine: local, registry: local, tests: [unit, smoke]}":
                  "testing: {engine: local, registry: local, tests: [unit], promote: manual}",
                  "replicas: 2": "replicas: 1"}, PIPELINE) as served_app:
        yield served_app


def token(server: Server, name: str, *args: str) -> str:
    return server.cli("token", "create", "--name", name, *args).stdout.strip()


def runs_of(server: Server, app: ServedApp, sha: str) -> list[dict]:
    with server.client() as client:
        return [r for r in client.get("/api/runs", params={"app": app.app.name, "limit": 200}).json()
                if r["commit_sha"] == sha]


def audit_rows(server: Server) -> list[dict]:
    with server.client() as client:
        return client.get("/api/audit", params={"limit": 5000}).json()["rows"]


def push_body(app: ServedApp, sha: str, provider: str = "github") -> bytes:
    name = app.app.name
    if provider == "gitea":
        return body_of(gitea_push(f"file://{app.bare}", "", f"acme/{name}", "main", sha))
    return body_of(github_push(f"file://{app.bare}", "", f"acme/{name}", "main", sha))


def hook(server: Server, provider: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{server.url}/hooks/{provider}", content=body,
                      headers=headers or signed_headers(provider, SECRET, body), timeout=60)


def log_in(client: httpx.Client, token: str, headers: dict[str, str] | None = None) -> httpx.Response:
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/login").text)
    assert nonce
    return client.post("/login", data={"nonce": nonce.group(1), "token": token}, headers=headers)


def sessions_of(server: Server, name: str | None = None) -> int:
    with sqlite3.connect(Path(server.env["DOCKYARD_HOME"]) / "state.db") as conn:
        if name is None:
            return int(conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])
        return int(conn.execute("SELECT COUNT(*) FROM sessions JOIN tokens ON tokens.id = sessions.token_id "
                                "WHERE tokens.name=?", (name,)).fetchone()[0])


def test_a_captured_push_sent_again_queues_nothing(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    old = app.push("v1 of the replay test")
    old_body = push_body(app, old)
    first = hook(server, "github", old_body)
    assert first.status_code == 202 and first.json()["runs"][0]["run"], first.text
    new = app.push("v2 of the replay test")
    new_headers = signed_headers("github", SECRET, push_body(app, new))
    second = hook(server, "github", push_body(app, new), new_headers)
    assert second.status_code == 202 and second.json()["runs"][0]["run"], second.text

    # the attacker sends what was captured, each time under a delivery id never seen
    stale = hook(server, "github", old_body)
    assert stale.status_code == 200 and stale.json()["runs"] == []
    [skipped] = stale.json()["skipped"]
    assert skipped["reason"] == "not-head" and "not the head" in skipped["message"]
    again = hook(server, "github", push_body(app, new))
    assert again.status_code == 200 and again.json()["runs"] == []
    assert again.json()["skipped"][0]["reason"] == "duplicate" and "duplicate" in again.json()["skipped"][0]["message"]
    other_provider = hook(server, "gitea", push_body(app, new, "gitea"))
    assert other_provider.status_code == 200 and other_provider.json()["skipped"][0]["reason"] == "duplicate"
    redelivered = hook(server, "github", push_body(app, new), new_headers)  # the same delivery id
    assert redelivered.status_code == 200 and "received before" in redelivered.json()["skipped"][0]["message"]

    assert len(runs_of(server, app, old)) == 1 and len(runs_of(server, app, new)) == 1  # nothing more queued
    outcomes = [r["outcome"] for r in audit_rows(server) if r["actor"].endswith("webhook")]
    assert sum(o.startswith("ignored (not-head)") for o in outcomes) == 1
    assert sum(o.startswith("ignored (duplicate)") for o in outcomes) == 3
    with server.client() as client:
        for run in runs_of(server, app, old) + runs_of(server, app, new):
            client.post(f"/api/runs/{run['id']}/cancel")


def test_api_errors_show_no_path_of_the_server(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    app.app.git("checkout", "-q", "-b", "feature/broken")
    app.app.write("dockyard.yml", app.app.spec_file.read_text().replace("replicas: 1", "replicas: -1"))
    app.app.commit("a spec that does not validate")
    app.app.git("push", "-q", str(app.bare), "feature/broken")
    app.app.git("checkout", "-q", "main")
    home = server.env["DOCKYARD_HOME"]
    with server.client() as client:
        broken = client.post("/api/runs", json={"app": app.app.name, "branch": "feature/broken"})
        missing = client.post("/api/runs", json={"app": app.app.name, "branch": "no-such-branch"})
    assert broken.status_code == 400 and missing.status_code == 404
    for answer in (broken, missing):
        assert home not in answer.text and str(app.bare) not in answer.text, answer.text
        assert str(Path(home).parent) not in answer.text, answer.text
    assert re.search(r"[0-9a-f]{12}:dockyard\.yml:\d+: services\.web\.replicas", broken.json()["error"]), broken.text
    assert f"the repository of {app.app.name}" in missing.json()["error"]


def test_a_form_with_too_many_fields_is_a_400_and_changes_nothing(served: tuple[Server, ServedApp]) -> None:
    server, _ = served
    crowded = {f"field{n}": "x" for n in range(60)}
    with httpx.Client(base_url=server.url) as client:
        assert log_in(client, server.token).status_code == 303
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/runs").text)
        assert csrf
        refused = client.post("/logout", data={"csrf": csrf.group(1), **crowded})
        assert refused.status_code == 400 and "more than 50 fields" in refused.text
        assert client.get("/runs").status_code == 200  # still logged in: the log-out did not happen
        before = sessions_of(server)
        crowded_login = client.post("/login", data={"token": server.token, **crowded})
        assert crowded_login.status_code == 400 and "more than 50 fields" in crowded_login.text
        assert sessions_of(server) == before


def test_sessions_per_token_are_capped(served: tuple[Server, ServedApp]) -> None:
    server, _ = served
    admin = token(server, "many-sessions", "--scope", "admin")
    browsers = [httpx.Client(base_url=server.url) for _ in range(12)]
    try:
        for browser in browsers:
            assert log_in(browser, admin).status_code == 303
        assert sessions_of(server, "many-sessions") == 10
        ended = browsers[0].get("/runs")
        assert ended.status_code == 303 and ended.headers["location"] == "/login"  # the oldest ended
        assert browsers[-1].get("/runs").status_code == 200
    finally:
        for browser in browsers:
            browser.close()


def test_failed_log_ins_are_limited_and_counted_in_one_audit_row(served: tuple[Server, ServedApp]) -> None:
    server, _ = served
    before = sessions_of(server)
    with httpx.Client(base_url=server.url) as client:
        answers = []
        for n in range(8):  # a new X-Forwarded-For each time does not make a new source
            answers.append(log_in(client, f"dy_guess{n}", headers={"X-Forwarded-For": f"198.51.100.{n}"}))
        assert [a.status_code for a in answers] == [401] * 5 + [429] * 3
        assert 1 <= int(answers[-1].headers["retry-after"]) <= LOGIN_WINDOW
        held = log_in(client, server.token)  # the right token too, until the window ends
        assert held.status_code == 429 and "too many failed log-ins" in held.text
    assert sessions_of(server) == before  # no session was made
    deadline = time.monotonic() + LOGIN_WINDOW + 10
    while time.monotonic() < deadline:
        rows = [r for r in audit_rows(server) if r["action"] == "login" and r["outcome"].startswith("refused")]
        if rows:
            break
        time.sleep(0.3)
    assert [(r["source"], r["outcome"]) for r in rows] == [
        ("api 127.0.0.1", "refused: 5 failed log-ins, then 4 answered 429 (too many)")]
    with httpx.Client(base_url=server.url) as client:
        assert log_in(client, server.token).status_code == 303  # the window ended


def test_x_forwarded_for_is_believed_from_listed_proxies_only(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    reader = token(server, "xff-reader", "--scope", "read")

    def refused_source() -> str:
        with server.client(reader) as client:
            refused = client.post("/api/runs", json={"app": app.app.name, "branch": "main"},
                                  headers={"X-Forwarded-For": "203.0.113.66"})
        assert refused.status_code == 403
        return next(r["source"] for r in audit_rows(server) if r["actor"] == "xff-reader")

    assert refused_source() == "api 127.0.0.1"  # a local process cannot choose what the audit log says
    assert not [r for r in audit_rows(server) if "203.0.113.66" in r["source"]]
    write_settings(server, f"server: {{login_window_s: {LOGIN_WINDOW}, trusted_proxies: [127.0.0.1]}}\n")
    server.stop()
    server.start()
    try:
        assert refused_source() == "api 203.0.113.66"  # behind a proxy the operator listed
    finally:
        write_settings(server, f"server: {{login_window_s: {LOGIN_WINDOW}}}\n")
        server.stop()
        server.start()

"""One-off tasks and deploy locks over the API (issue 31), on the real engine and a real server: a
`deploy:ENV` token runs a command in the live release and reads its output as it is written, with
its exit code; a token without that scope, or of another environment, runs nothing and is audited;
a lock taken over the API holds the CLI's deploy off, naming the token, until it is released."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import docker
import pytest

from dockyard.engine import labels as L
from tests.conftest import run_cli
from tests.integration.server.conftest import (  # noqa: F401  (fixtures)
    ServedApp,
    Server,
    cleanup,
    dashboard_session,
    docker_client_module,
    prepare_app,
    server_factory,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(server_factory: Server, tmp_path_factory: pytest.TempPathFactory,  # noqa: F811
           docker_client_module: docker.DockerClient) -> Iterator[tuple[Server, ServedApp]]:  # noqa: F811
    server = server_factory
    app = prepare_app(tmp_path_factory.mktemp("tasks"), server, {"replicas: 2": "replicas: 1"},
                      "release: {command: 'echo migrated'}\nhooks: {post_switch: {command: [true]}}\n")
    server.cli("build", cwd=app.app.path)
    server.cli("deploy", "testing", "--skip-tests", cwd=app.app.path)
    server.start()
    try:
        yield server, app
    finally:
        server.stop()
        cleanup(docker_client_module, app.app.name)


def token(server: Server, name: str, *scope: str) -> str:
    return server.cli("token", "create", "--name", name, *scope).stdout.strip()


def events(text: str) -> list[tuple[str, dict]]:
    found = []
    for block in text.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":") and ": " in line)
        if "event" in lines:
            found.append((lines["event"], json.loads(lines["data"])))
    return found


def test_a_task_runs_in_the_live_release_and_streams_its_output(
        served: tuple[Server, ServedApp], docker_client_module: docker.DockerClient) -> None:  # noqa: F811
    server, app = served
    name = app.app.name
    ci = token(server, "task-ci", "--scope", "deploy", "--env", "testing", "--app", name)
    command = {"command": ["sh", "-c", "echo first; sleep 1; echo \"$(cat /etc/app/app.conf)\"; exit 3"]}
    with server.client(ci) as api, api.stream("POST", f"/api/apps/{name}/envs/testing/tasks", json=command) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        got = events("".join(answer.iter_text()))
    assert [d["line"] for e, d in got if e == "output"] == ["first", "greeting=hi"]
    assert got[-1][0] == "end" and got[-1][1]["exit_code"] == 3 and got[-1][1]["status"] == "failed"
    assert not docker_client_module.containers.list(all=True, filters={"label": [f"{L.APP}={name}", f"{L.TASK}=run"]})

    staging_only = token(server, "task-staging", "--scope", "deploy", "--env", "staging", "--app", name)
    reader = token(server, "task-reader", "--scope", "read", "--app", name)
    for other in (staging_only, reader):
        with server.client(other) as api:
            refused = api.post(f"/api/apps/{name}/envs/testing/tasks", json={"command": ["touch", "/tmp/x"]})
        assert refused.status_code == 403, refused.text
    with server.client(ci) as api:
        assert api.post(f"/api/apps/{name}/envs/testing/tasks").status_code == 400  # no body: said, audited
        assert api.post(f"/api/apps/{name}/envs/testing/tasks", json={"command": []}).status_code in (400, 422)
    with server.client() as admin:
        rows = admin.get("/api/audit", params={"limit": 500}).json()["rows"]
    mine = [(r["actor"], r["action"], r["outcome"]) for r in rows if r["target"] == f"{name}/testing"]
    assert any(a == "task-ci" and act == "run" and o.startswith("failed: failed (exit 3)") for a, act, o in mine)
    assert any(a == "task-ci" and act == "run" and o == "ok" for a, act, o in mine)  # its start
    assert any(r["actor"] == "task-staging" and r["outcome"].startswith("refused: no deploy:testing") for r in rows)
    assert not any("touch" in (r["detail"] or "") for r in rows)  # the command's words are not kept


def test_a_lock_taken_over_the_api_holds_the_cli_off(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    name = app.app.name
    ops = token(server, "ops-bot", "--scope", "deploy", "--env", "testing", "--app", name)
    other = token(server, "other-bot", "--scope", "deploy", "--env", "testing", "--app", name)
    with server.client(ops) as api:
        taken = api.post(f"/api/apps/{name}/envs/testing/lock", json={"message": "db maintenance"})
        assert taken.status_code == 200 and taken.json()["lock"]["user"] == "ops-bot"
        assert api.get(f"/api/apps/{name}/envs/testing/lock").json()["lock"]["message"] == "db maintenance"
    refused = run_cli("deploy", "testing", cwd=app.app.path, env=server.env)
    assert refused.returncode != 0 and "held by ops-bot (by hand" in refused.stderr and "db maintenance" in \
        refused.stderr and "Traceback" not in refused.stderr
    with server.client(other) as api:
        assert api.delete(f"/api/apps/{name}/envs/testing/lock").status_code == 409  # not its own
        assert api.delete(f"/api/apps/{name}/envs/testing/lock", params={"force": "true"}).status_code == 200
        assert api.get(f"/api/apps/{name}/envs/testing/lock").json()["lock"] is None
    with server.client() as admin:
        rows = admin.get("/api/audit", params={"limit": 500}).json()["rows"]
    assert any(r["actor"] == "other-bot" and r["action"] == "lock release" and r["detail"] == "--force"
               and r["outcome"] == "ok" for r in rows)


def test_the_releases_page_shows_the_release_task_and_hooks(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    viewer = token(server, "release-viewer", "--scope", "read", "--app", app.app.name)
    browser = dashboard_session(server, viewer)
    html = browser.get(f"/apps/{app.app.name}/envs/testing/releases").text
    browser.close()
    cell = re.search(r'<td class="release-task">(.*?)</td>', html, re.S)
    assert cell and "succeeded" in cell.group(1) and "exit 0" in cell.group(1), html
    hooks = re.search(r'<td class="hooks">(.*?)</td>', html, re.S)
    assert hooks and "post_switch" in hooks.group(1)

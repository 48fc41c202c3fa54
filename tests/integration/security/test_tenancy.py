"""Issue 28: apps are walls. Two apps on one server, each with a token scoped to it: every route of
the API and every page, form and stream that is about the other app answers 403 (and is audited),
the other app appears in no list, and nothing of it changes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import docker
import httpx
import pytest

from dockyard.server.app import create_app
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

PIPELINE = "pipeline:\n  branches: {main: [testing]}\n"
MANUAL = {"testing: {engine: local, registry: local, tests: [unit, smoke]}":
          "testing: {engine: local, registry: local, tests: [unit], promote: manual}", "replicas: 2": "replicas: 1"}


@pytest.fixture(scope="module")
def two_apps(server_factory: Server, tmp_path_factory: pytest.TempPathFactory,  # noqa: F811
             docker_client_module: docker.DockerClient) -> Iterator[tuple[Server, ServedApp, ServedApp]]:  # noqa: F811
    server = server_factory
    ours = prepare_app(tmp_path_factory.mktemp("ours"), server, MANUAL, PIPELINE)
    theirs = prepare_app(tmp_path_factory.mktemp("theirs"), server, MANUAL, PIPELINE)
    server.start()
    try:
        yield server, ours, theirs
    finally:
        server.stop()
        for app in (ours, theirs):
            cleanup(docker_client_module, app.app.name)


def scoped(server: Server, name: str, app: str) -> str:
    return server.cli("token", "create", "--name", name, "--scope", "read", "--scope", "trigger", "--scope",
                      "approve", "--scope", "deploy", "--app", app).stdout.strip()


def session(server: Server, token: str) -> httpx.Client:
    """A signed-in dashboard client (its cookie): its forms carry the CSRF value of its pages."""
    return dashboard_session(server, token)


def routes() -> list[tuple[str, str]]:
    """(method, path) of every route about an app or a run, API and dashboard alike (an included
    router's routes are listed through it, with its prefix)."""
    found = []
    for route in create_app().routes:
        inner = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for each in inner:
            path = getattr(each, "path", "") or ""
            methods = getattr(each, "methods", None) or getattr(getattr(each, "original_route", None), "methods", ())
            if "{app}" in path or "{run_id}" in path:
                found += [(method, path) for method in sorted(methods or ()) if method != "HEAD"]
    return found


def test_a_token_of_one_app_reaches_nothing_of_another(two_apps) -> None:
    server, ours, theirs = two_apps
    with server.client() as admin:
        runs = {app.app.name: admin.post("/api/runs", json={"app": app.app.name, "branch": "main"}).json()["id"]
                for app in (ours, theirs)}
        server.wait_run(runs[theirs.app.name], timeout=240)
        before = admin.get(f"/api/apps/{theirs.app.name}/releases/testing").json()
        run_before = admin.get(f"/api/runs/{runs[theirs.app.name]}").json()
    mine = scoped(server, "ours-ci", ours.app.name)
    values = {"app": theirs.app.name, "run_id": str(runs[theirs.app.name]), "env": "testing", "idx": "0",
              "action": "pause", "number": "7"}
    tried = routes()
    assert len(tried) >= 20  # the API's and the dashboard's routes about an app or a run
    browser = session(server, mine)
    csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/").text)
    assert csrf
    answers = {}
    with server.client(mine) as api:
        for method, path in tried:
            url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
            client = api if path.startswith("/api/") else browser
            data = {"csrf": csrf.group(1)} if method == "POST" and not path.startswith("/api/") else None
            answers[f"{method} {path}"] = client.request(method, url, data=data).status_code
        assert {k: v for k, v in answers.items() if v != 403} == {}

        # lists show only its own app; naming the other is refused
        assert [a["name"] for a in api.get("/api/apps").json()] == [ours.app.name]
        assert {r["app"] for r in api.get("/api/runs").json()} == {ours.app.name}
        assert api.get("/api/runs", params={"app": theirs.app.name}).status_code == 403
        started = api.post("/api/runs", json={"app": theirs.app.name, "branch": "main"})
        assert started.status_code == 403
        # its own app: reached
        assert api.get(f"/api/apps/{ours.app.name}/environments").status_code == 200
        assert api.get(f"/api/runs/{runs[ours.app.name]}").status_code == 200
    home = browser.get("/").text
    assert ours.app.name in home and theirs.app.name not in home
    assert theirs.app.name not in browser.get("/runs").text
    assert browser.get(f"/runs?app={theirs.app.name}").status_code == 403
    browser.close()

    with server.client() as admin:  # nothing of theirs changed, and every refusal is in the audit log
        assert admin.get(f"/api/apps/{theirs.app.name}/releases/testing").json() == before
        assert admin.get(f"/api/runs/{runs[theirs.app.name]}").json()["status"] == run_before["status"]
        rows = admin.get("/api/audit", params={"limit": 5000}).json()["rows"]
    refusals = [r for r in rows if r["actor"] == "ours-ci" and r["outcome"].startswith("refused: the token does not")]
    assert len(refusals) >= len(tried)


def test_an_admin_token_is_site_wide_and_cannot_be_narrowed(two_apps) -> None:
    server, ours, theirs = two_apps
    with server.client() as admin:
        assert {a["name"] for a in admin.get("/api/apps").json()} >= {ours.app.name, theirs.app.name}
    refused = run_cli("token", "create", "--name", "narrow-admin", "--scope", "admin", "--app", ours.app.name,
                      env=server.env)
    assert refused.returncode == 2 and "an admin token reaches every app" in refused.stderr
    listed = run_cli("token", "ls", "--json", env=server.env)
    assert any(t["apps"] == [ours.app.name] for t in json.loads(listed.stdout))


def test_every_route_that_changes_something_writes_an_audit_row(two_apps) -> None:
    """Issue 28: seven changing commands were not audited. Every POST of the API and the dashboard,
    tried by an admin, leaves a row, whatever its outcome (the webhooks: tests/integration/server)."""
    server, ours, _theirs = two_apps
    admin_token = server.cli("token", "create", "--name", "auditor", "--scope", "admin").stdout.strip()
    throwaway = server.cli("token", "create", "--name", "throwaway", "--scope", "read", "--json").stdout
    values = {"app": ours.app.name, "env": "testing", "idx": "0", "run_id": "1", "action": "pause", "number": "7",
              "token_id": str(json.loads(throwaway)["token_id"])}
    posts = []
    for route in create_app().routes:
        inner = route.effective_route_contexts() if hasattr(route, "effective_route_contexts") else [route]
        for each in inner:
            methods = getattr(each, "methods", None) or getattr(getattr(each, "original_route", None), "methods", ())
            path = getattr(each, "path", "") or ""
            if methods and "POST" in methods and not path.startswith(("/hooks/", "/login")):
                posts.append(path)
    assert len(posts) >= 10
    browser = session(server, admin_token)
    csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/").text)
    assert csrf
    silent = []
    with server.client(admin_token) as api:
        for path in sorted(posts, key=lambda p: p == "/logout"):  # log-out last: it ends the session
            before = len(api.get("/api/audit", params={"limit": 5000}).json()["rows"])
            url = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
            if path.startswith("/api/"):
                api.post(url, json={"app": ours.app.name, "branch": "no-such-branch"} if path == "/api/runs" else None)
            else:
                browser.post(url, data={"csrf": csrf.group(1), "name": "made-by-form", "scopes": "read"})
            after = len(api.get("/api/audit", params={"limit": 5000}).json()["rows"])
            if after <= before:
                silent.append(path)
        api.delete(f"/api/apps/{ours.app.name}/envs/testing/lock")  # the POST of the lock took it
    assert silent == []

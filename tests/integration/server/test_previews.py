"""Pull request previews through a real `dockyard server` (issue 33): what a fork's pull request gets,
the cap, the expiry, and the GitLab and Gitea events.

- A fork's pull request: its preview runs, marked untrusted, and no secret value of `previews.from`
  reaches its containers (environment, secret files, writable layer), its run's output or the
  server's log; a pull request of the repository itself gets them (so the check can fail).
- 12 pull requests opened with `max: 10`: 10 previews run, 2 are refused, each with an `error` status.
- `ttl`: a preview not updated for its ttl is taken down by the server's loop, with everything it had.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources
from tests.integration.server.conftest import SECRET, Server, dashboard_session
from tests.integration.server.previews import Receiver, preview_site, pull_request, push_pull, send
from tests.json_schemas import check
from tests.ports import free_port
from tests.unit.server.payloads import body_of, signed_headers

pytestmark = pytest.mark.integration

SECRET_VALUE = "s3cret-of-staging-7f1c"


@pytest.fixture
def site(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[tuple[Server, int, Receiver]]:
    http = free_port()
    # the expiry loop looks once an hour until a test restarts the server with a shorter period
    with preview_site(tmp_path, ["--http-port", str(http)],
                      "  github: {url: '{receiver}/github/{repo}/{sha}'}\n"
                      "  gitlab: {url: '{receiver}/gitlab/{project_id}/{sha}'}\n"
                      "  gitea: {url: '{receiver}/gitea/{repo}/{sha}'}\n",
                      env={"DOCKYARD_PREVIEWS_EVERY": "3600"}) as (server, receiver):
        server.token = server.cli("token", "create", "--name", "admin", "--scope", "admin").stdout.strip()
        yield server, http, receiver


WORKER = """\
  worker:
    command: [sh, -c, "while true; do sleep 1; done"]
    stop_grace: 1s
config:"""


def served_app(server: Server, root: Path, previews: str, staging: str = "staging.preview.test",
               worker: bool = False) -> tuple[TestApp, Path]:
    """An app with one replica (and a worker without a port) and no test step, registered with its
    bare repository (the team's remote)."""
    app = make_app(root, replicas=1)
    spec = app.spec_file.read_text().replace(
        "  staging: {engine: local, registry: remote, strategy: recreate, tests: [smoke], promote: manual}",
        f"  staging: {{engine: local, registry: remote, domains: [{staging}]}}")
    if worker:
        spec = spec.replace("config:", WORKER, 1)
    app.write("dockyard.yml", spec + previews)
    app.commit("previews")
    bare = root / f"{app.name}.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(app.path), str(bare)], check=True)
    server.cli("app", "add", app.name, "--repo", str(bare))
    server.cli("config", "set", "staging", "GREETING=hi", cwd=app.path)
    server.cli("secret", "set", "staging", "DB_PASSWORD", cwd=app.path, input=SECRET_VALUE)
    app.git("checkout", "-q", "-b", "feature")
    return app, bare


def rows(server: Server, app: TestApp) -> dict[int, dict[str, Any]]:
    listed = check("preview.schema.json", json.loads(server.cli("preview", "ls", "--json", cwd=app.path).stdout))
    return {r["number"]: r for r in listed}


def wait_for(server: Server, app: TestApp, wanted: dict[int, tuple[str, ...]], timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = rows(server, app)
        if all(n in now and now[n]["state"] in states for n, states in wanted.items()):
            return now
        time.sleep(1)
    raise AssertionError(f"previews not {wanted} after {timeout} s: {json.dumps(rows(server, app))}\n"
                         + server.log.read_text()[-3000:])


def page(http: int, name: str, path: str) -> str:
    got = httpx.get(f"http://127.0.0.1:{http}{path}", headers={"Host": name}, timeout=10)
    assert got.status_code == 200, (name, path, got.status_code, got.text)
    return got.text


def of_preview(client: docker.DockerClient, app: TestApp, number: int) -> list[Any]:
    return client.containers.list(all=True, filters={"label": [f"dockyard.app={app.name}",
                                                               f"dockyard.env=pr-{number}"]})


def holds_secret(client: docker.DockerClient, container: Any) -> list[str]:
    """Where SECRET_VALUE is in a container: its environment, its secret files, its writable layer."""
    found = []
    container.reload()
    if any(SECRET_VALUE in item for item in container.attrs["Config"]["Env"] or []):
        found.append("environment")
    folder = Path(container.labels.get("dockyard.secrets-dir") or "/nonexistent")
    if folder.is_dir() and any(SECRET_VALUE in p.read_text() for p in folder.rglob("*") if p.is_file()):
        found.append("secret files")
    grep = container.exec_run(["sh", "-c", f"grep -rl {SECRET_VALUE} /etc /www /tmp /run 2>/dev/null"])
    if grep.output.strip():
        found.append(f"files: {grep.output.decode().split()}")
    return found


def test_a_forks_pull_request_gets_no_secret_and_previews_expire(
        site: tuple[Server, int, Receiver], tmp_path: Path, docker_client: docker.DockerClient) -> None:
    server, http, receiver = site
    app, bare = served_app(server, tmp_path / "apps",
                           'previews: {from: staging, domain: "pr-{number}.fork.test", ttl: 5s}\n', worker=True)
    # another team's app on the same server, with previews of the same numbers, kept for an hour
    other, other_bare = served_app(server, tmp_path / "other",
                                   'previews: {from: staging, domain: "pr-{number}.other.test", ttl: 1h}\n',
                                   staging="staging.other.test")
    try:
        server.start()
        forked = push_pull(app, bare, 8, "from a fork\n")
        send(server, pull_request(app, bare, "opened", 8, forked, fork=True))
        send(server, pull_request(other, other_bare, "opened", 8, push_pull(other, other_bare, 8, "the other team\n")))
        wait_for(server, app, {8: ("ready",)})
        wait_for(server, other, {8: ("ready",)})
        assert set(rows(server, other)) == {8} and rows(server, other)[8]["trusted"] is True
        assert page(http, "pr-8.other.test", "/") == "the other team\n"
        assert page(http, "pr-8.fork.test", "/") == "from a fork\n"
        assert rows(server, app)[8]["trusted"] is False
        env_page = page(http, "pr-8.fork.test", "/cgi-bin/env")
        assert "DB_PASSWORD=\n" in env_page or "DB_PASSWORD=" in env_page.splitlines(), env_page
        assert SECRET_VALUE not in env_page
        containers = of_preview(docker_client, app, 8)
        assert containers and all(holds_secret(docker_client, c) == [] for c in containers)
        with server.client() as api:
            run = api.get(f"/api/runs/{rows(server, app)[8]['run']}", params={"output": True}).json()
        output = "\n".join(s["output"] for s in run["steps"])
        assert "secrets are withheld, set empty: DB_PASSWORD" in output and SECRET_VALUE not in output
        assert SECRET_VALUE not in server.log.read_text()
        assert [b["description"] for p, b, _ in receiver.seen if p.endswith(forked)][-1] == \
            "preview pr-8 is ready (untrusted: no secrets)"

        # the repository's own pull request gets staging's secret: the check above can fail
        own = push_pull(app, bare, 9, "from the repository\n")
        send(server, pull_request(app, bare, "opened", 9, own))
        wait_for(server, app, {9: ("ready",)})
        assert rows(server, app)[9]["trusted"] is True
        assert any(holds_secret(docker_client, c) for c in of_preview(docker_client, app, 9))
        # the worker without a port runs in the preview too
        assert sorted(c.labels["dockyard.service"] for c in of_preview(docker_client, app, 9)
                      if c.status == "running") == ["web", "worker"]
        # a preview is an environment like the others
        status = check("status-env.schema.json",
                       json.loads(server.cli("status", "pr-9", "--json", cwd=app.path).stdout))
        assert (status["name"], status["strategy"], len(status["replicas"])) == ("pr-9", "rolling", 2), status
        assert "ran in pr-9" in server.cli("run", "pr-9", "--", "sh", "-c", "echo ran in pr-9", cwd=app.path).stdout
        server.cli("maintenance", "on", "pr-9", cwd=app.path)
        assert httpx.get(f"http://127.0.0.1:{http}/", headers={"Host": "pr-9.fork.test"}, timeout=10).status_code == 503
        server.cli("maintenance", "off", "pr-9", cwd=app.path)

        # both are past their ttl (5 s): the server's loop, looking every second now, takes them down
        server.stop()
        server.env["DOCKYARD_PREVIEWS_EVERY"] = "1"
        server.start()
        wait_for(server, app, {8: ("closed",), 9: ("closed",)}, timeout=120)
        assert of_preview(docker_client, app, 8) == [] and of_preview(docker_client, app, 9) == []
        assert "expired: not updated for" in rows(server, app)[8]["message"]
        # the other team's pr-8 is not theirs to expire
        assert rows(server, other)[8]["state"] == "ready" and of_preview(docker_client, other, 8)
        try:  # the edge serves nothing else: it is stopped
            assert httpx.get(f"http://127.0.0.1:{http}/", headers={"Host": "pr-8.fork.test"}, timeout=10) \
                .status_code != 200
        except httpx.ConnectError:
            pass
    finally:
        server.stop()
        remove_app_resources(docker_client, app.name)
        remove_app_resources(docker_client, other.name)


def test_twelve_pull_requests_with_max_ten_get_ten_previews_and_two_refusals(
        site: tuple[Server, int, Receiver], tmp_path: Path, docker_client: docker.DockerClient) -> None:
    server, http, receiver = site
    app, bare = served_app(server, tmp_path / "apps",
                           'previews: {from: staging, domain: "pr-{number}.cap.test", max: 10}\n')
    try:
        server.start()
        change = push_pull(app, bare, 1, "the same change\n")
        for n in range(2, 13):  # twelve pull requests of one commit: one build
            app.git("push", "-q", str(bare), f"HEAD:refs/pull/{n}/head")
        shas = dict.fromkeys(range(1, 13), change)
        answers = [send(server, pull_request(app, bare, "opened", n, shas[n])) for n in range(1, 13)]
        refused = [a["skipped"][0] for a in answers if a["skipped"]]
        assert [(r["preview"], r["reason"]) for r in refused] == [("pr-11", "max"), ("pr-12", "max")]
        assert "has 10 previews already (previews.max)" in refused[0]["message"]
        now = wait_for(server, app, {n: ("ready",) for n in range(1, 11)}, timeout=600)
        assert [now[n]["state"] for n in (11, 12)] == ["refused", "refused"]
        assert [b["state"] for _, b, _ in receiver.seen].count("error") == 2
        assert page(http, "pr-10.cap.test", "/") == "the same change\n"
        assert len({c.labels["dockyard.env"] for c in docker_client.containers.list(
            filters={"label": f"dockyard.app={app.name}"})}) == 10

        # apps are walls, and taking one down needs the trigger scope
        other = server.cli("token", "create", "--name", "other-app", "--scope", "trigger", "--app", "another").stdout
        reader = server.cli("token", "create", "--name", "reader", "--scope", "read", "--app", app.name).stdout
        with server.client(other.strip()) as api:
            assert api.get(f"/api/apps/{app.name}/previews").status_code == 403
            assert api.delete(f"/api/apps/{app.name}/previews/2").status_code == 403
        with server.client(reader.strip()) as api:
            assert [p["env"] for p in api.get(f"/api/apps/{app.name}/previews").json()["previews"]] == \
                [f"pr-{n}" for n in range(1, 13)]
            assert api.delete(f"/api/apps/{app.name}/previews/2").status_code == 403
            assert api.post(f"/api/apps/{app.name}/previews/13", json={"ref": "/etc/passwd"}).status_code in (403, 422)
        assert rows(server, app)[2]["state"] == "ready" and 13 not in rows(server, app)

        # closing one from the dashboard frees a place: pull request 11 opened again gets its preview
        browser = dashboard_session(server, server.token)
        try:
            listed = browser.get(f"/apps/{app.name}").text
            assert all(f'data-preview="pr-{n}"' in listed for n in range(1, 13)) and "has 10 previews already" in listed
            csrf = listed.split('name="csrf" value="')[1].split('"')[0]
            assert browser.post(f"/apps/{app.name}/previews/1/down", data={"csrf": "wrong"}).status_code == 403
            assert rows(server, app)[1]["state"] == "ready"
            assert browser.post(f"/apps/{app.name}/previews/1/down", data={"csrf": csrf}).status_code == 303
        finally:
            browser.close()
        wait_for(server, app, {1: ("closed",)})
        assert send(server, pull_request(app, bare, "reopened", 11, shas[11]))["runs"][0]["preview"] == "pr-11"
        wait_for(server, app, {11: ("ready",)})
    finally:
        server.stop()
        remove_app_resources(docker_client, app.name)


def test_gitlab_merge_requests_and_gitea_pull_requests_open_and_close_previews(
        site: tuple[Server, int, Receiver], tmp_path: Path, docker_client: docker.DockerClient) -> None:
    server, http, receiver = site
    app, bare = served_app(server, tmp_path / "apps",
                           'previews: {from: staging, domain: "pr-{number}.hub.test"}\n')
    try:
        server.start()
        app.write("www/index.html", "merge request 4\n")
        sha = app.commit("merge request 4")
        app.git("push", "-q", str(bare), "HEAD:refs/merge-requests/4/head")
        project = {"id": 42, "name": app.name, "path_with_namespace": f"team/{app.name}",
                   "git_http_url": f"file://{bare}", "git_ssh_url": f"git@gitlab.example.invalid:team/{app.name}.git"}

        def merge_request(action: str, extra: dict[str, Any]) -> bytes:
            return body_of({"object_kind": "merge_request", "project": project, "object_attributes": {
                "iid": 4, "action": action, "source_project_id": 42, "target_project_id": 42,
                "last_commit": {"id": sha}, **extra}})

        def gitlab(body: bytes) -> httpx.Response:  # each time under a new delivery id
            return httpx.post(f"{server.url}/hooks/gitlab", content=body, timeout=60,
                              headers=signed_headers("gitlab", SECRET, body, "Merge Request Hook"))

        body = merge_request("open", {"updated_at": "2026-12-07 10:00:00 UTC"})
        answer = gitlab(body)
        assert answer.status_code == 202 and answer.json()["runs"][0]["preview"] == "pr-4", answer.text
        wait_for(server, app, {4: ("ready",)})
        assert page(http, "pr-4.hub.test", "/") == "merge request 4\n"
        assert [b["state"] for p, b, _ in receiver.seen if p == f"/gitlab/42/{sha}"] == ["pending", "success"]
        answer = gitlab(merge_request("update", {}))  # a title changed, no commit: nothing to do
        assert answer.status_code == 202 and "changes no code" in answer.json()["ignored"]
        closing = merge_request("close", {"updated_at": "2026-12-07 10:05:00 UTC"})
        assert gitlab(closing).status_code == 202
        wait_for(server, app, {4: ("closed",)})
        assert gitlab(merge_request("reopen", {"updated_at": "2026-12-07 10:10:00 UTC"})).status_code == 202
        wait_for(server, app, {4: ("ready",)})
        # the close sent again under a new delivery id (its signed body as it was), after the reopen of
        # the same commit: a replay, refused by its time; the preview stays
        replayed = gitlab(closing)
        assert replayed.status_code == 200 and replayed.json()["skipped"][0]["reason"] == "stale", replayed.text
        assert rows(server, app)[4]["state"] == "ready" and page(http, "pr-4.hub.test", "/") == "merge request 4\n"
        assert gitlab(merge_request("merge", {"updated_at": "2026-12-07 10:15:00 UTC"})).status_code == 202
        wait_for(server, app, {4: ("closed",)})

        gitea = json.loads(pull_request(app, bare, "opened", 5, push_pull(app, bare, 5, "gitea five\n")))
        body = body_of(gitea)
        answer = httpx.post(f"{server.url}/hooks/gitea", content=body, timeout=60,
                            headers=signed_headers("gitea", SECRET, body, "pull_request"))
        assert answer.status_code == 202, answer.text
        wait_for(server, app, {5: ("ready",)})
        assert page(http, "pr-5.hub.test", "/") == "gitea five\n"

        # a pull request that changes previews: (here its cap) is refused, and its commit says why
        app.write("dockyard.yml", app.spec_file.read_text().replace('hub.test"}', 'hub.test", max: 99}'))
        greedy = app.commit("more previews for me")
        app.git("push", "-q", str(bare), "HEAD:refs/pull/6/head")
        body = pull_request(app, bare, "opened", 6, greedy)
        refused = httpx.post(f"{server.url}/hooks/github", content=body, timeout=60,
                             headers=signed_headers("github", SECRET, body, "pull_request"))
        assert refused.status_code == 403 and "previews differs from the default branch" in refused.text, refused.text
        deadline = time.monotonic() + 20
        while not [b for p, b, _ in receiver.seen if p.endswith(greedy)] and time.monotonic() < deadline:
            time.sleep(0.2)
        said = [b for p, b, _ in receiver.seen if p.endswith(greedy)]
        assert [b["state"] for b in said] == ["failure"] and "previews differs" in said[0]["description"], said
        assert str(tmp_path) not in said[0]["description"] + refused.text  # no path of the server's
        assert 6 not in rows(server, app)
    finally:
        server.stop()
        remove_app_resources(docker_client, app.name)

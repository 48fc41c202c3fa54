"""What the preview tests share (issue 33): a real `dockyard server` with its edge, a commit-status
receiver on 127.0.0.1, and GitHub pull request events signed as GitHub signs them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from dockyard.router.edge import Edge
from tests.apps import TestApp
from tests.integration.server.conftest import SECRET, Server, site_env
from tests.ports import free_port
from tests.unit.server.payloads import body_of, signed_headers


class Receiver:
    """A commit-status endpoint on 127.0.0.1: every POST body kept, with its path and headers."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any], str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.seen.append((self.path, json.loads(body), self.headers.get("Authorization") or ""))
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def states(self, sha: str) -> list[tuple[str, str]]:
        return [(body["state"], body.get("target_url", "")) for path, body, _ in self.seen if path.endswith(sha)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def pull_request(app: TestApp, bare: Path, action: str, number: int, sha: str, fork: bool = False) -> bytes:
    """A GitHub pull_request event as GitHub sends it (the fields Dockyard reads, and some it does not)."""
    base = {"id": 1, "name": app.name, "full_name": f"acme/{app.name}", "clone_url": f"file://{bare}",
            "ssh_url": f"git@github.example.invalid:acme/{app.name}.git", "fork": False}
    head = {**base, "id": 2, "full_name": f"someone/{app.name}", "fork": True} if fork else base
    return body_of({
        "action": action, "number": number,
        "pull_request": {"number": number, "state": "closed" if action == "closed" else "open",
                         "merged": action == "closed", "title": "a change",
                         "head": {"ref": "feature", "sha": sha, "repo": head},
                         "base": {"ref": "main", "sha": "0" * 40, "repo": base}},
        "repository": base, "sender": {"login": "dev"}})


def send(server: Server, body: bytes) -> dict[str, Any]:
    answer = httpx.post(f"{server.url}/hooks/github", content=body,
                        headers=signed_headers("github", SECRET, body, "pull_request"), timeout=120)
    assert answer.status_code in (200, 202), answer.text
    return dict(answer.json())


def push_pull(app: TestApp, bare: Path, number: int, text: str) -> str:
    """A commit on the pull request's branch, pushed where GitHub keeps it (refs/pull/N/head)."""
    app.write("www/index.html", text)
    sha = app.commit(text.strip())
    app.git("push", "-q", "--force", str(bare), f"HEAD:refs/pull/{number}/head")
    return sha


@contextmanager
def preview_site(root: Path, edge: list[str], statuses: str, env: dict[str, str] | None = None
                 ) -> Iterator[tuple[Server, Receiver]]:
    """A server's site under `root` (not started): its edge configured with `edge`'s options, the
    commit statuses sent to a receiver (`statuses`: the YAML of settings' commit_status, with
    {receiver} for its URL); everything it started stopped at the end."""
    server = Server(env={**site_env(root), **(env or {})}, log=root / "server.log")
    receiver = Receiver()
    try:
        server.cli("edge", "configure", "--address", "127.0.0.1", *edge)
        settings_file = Path(server.env["DOCKYARD_HOME"]) / "settings.yml"
        text = settings_file.read_text()
        assert "commit_status: {}\n" in text
        settings_file.write_text(text.replace("commit_status: {}\n", "commit_status:\n" +
                                              statuses.replace("{receiver}", receiver.url)))
        yield server, receiver
    finally:
        server.stop()
        for proc in server.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        Edge(home=Path(server.env["DOCKYARD_HOME"])).stop(timeout=5)
        receiver.close()

"""Issue 28, finding 5: 60 log-tail streams of a read session made GET /api/apps time out for 20 s
(each stream slept in a worker thread), and a tail went on for an hour after its token was revoked.
Streams now wait on the event loop, are capped per token and per session, and end within seconds
of a revocation or a log-out. Against a real `dockyard server`."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.logs.store import LogStore
from tests.integration.server.conftest import ServedApp, Server, serving

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(server_factory: Server, tmp_path_factory: pytest.TempPathFactory,
           docker_client_module: docker.DockerClient) -> Iterator[tuple[Server, ServedApp]]:
    LogStore(Path(server_factory.env["DOCKYARD_HOME"]) / "logs" / "store.db").db.close()  # an empty store
    with serving(server_factory, tmp_path_factory.mktemp("apps"), docker_client_module, {},
                 "pipeline:\n  branches: {main: [testing]}\n") as served_app:
        yield served_app


def signed_in(server: Server, token: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=10)
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/login").text)
    assert nonce and client.post("/login", data={"nonce": nonce.group(1), "token": token}).status_code == 303
    return client


class Tail(threading.Thread):
    """One log-tail stream held open until it ends; when it ended and with which status."""

    def __init__(self, client: httpx.Client, path: str) -> None:
        super().__init__(daemon=True)
        self.client, self.path = client, path
        self.status: int | None = None
        self.ended: float | None = None
        self.opened = threading.Event()

    def run(self) -> None:
        try:
            with self.client.stream("GET", self.path, timeout=httpx.Timeout(10, read=30)) as response:
                self.status = response.status_code
                self.opened.set()
                for _ in response.iter_raw():
                    pass
        except httpx.HTTPError:
            pass
        finally:
            self.ended = time.monotonic()
            self.opened.set()


def test_sixty_streams_hold_no_thread_and_each_token_has_its_share(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    path = f"/apps/{app.app.name}/envs/testing/logs/events?after=0"
    tails: list[Tail] = []
    for n in range(8):  # 8 tokens, 2 sessions each, 4 streams a session: 64 streams
        token = server.cli("token", "create", "--name", f"reader-{n}", "--scope", "read").stdout.strip()
        for _ in range(2):
            client = signed_in(server, token)
            tails += [Tail(client, path) for _ in range(4)]
    for tail in tails:
        tail.start()
    for tail in tails:
        assert tail.opened.wait(20)
    assert [t.status for t in tails] == [200] * 64
    with server.client() as admin:
        started = time.monotonic()
        answered = admin.get("/api/apps")
        took = time.monotonic() - started
    assert answered.status_code == 200 and took < 2.0, took  # it took 20 s when each stream held a thread

    # a session's fifth stream and a token's ninth are refused, with 429
    token = server.cli("token", "create", "--name", "greedy", "--scope", "read").stdout.strip()
    one, two = signed_in(server, token), signed_in(server, token)
    held = [Tail(one, path) for _ in range(4)] + [Tail(two, path) for _ in range(4)]
    for tail in held:
        tail.start()
        assert tail.opened.wait(20) and tail.status == 200
    assert one.get(path).status_code == 429
    third = signed_in(server, token)
    refused = third.get(path)
    assert refused.status_code == 429 and "has 8 streams open already" in refused.text

    # revoked: every stream of the token ends within 5 s (they went on for an hour)
    revoked_at = time.monotonic()
    server.cli("token", "revoke", "greedy")
    for tail in held:
        tail.join(10)
        assert tail.ended is not None and tail.ended - revoked_at < 5.0, tail.ended - revoked_at

    # logged out: the session's streams end within 5 s too
    token = server.cli("token", "create", "--name", "leaving", "--scope", "read").stdout.strip()
    leaving = signed_in(server, token)
    tail = Tail(leaving, path)
    tail.start()
    assert tail.opened.wait(20) and tail.status == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', leaving.get("/").text)
    assert csrf
    out_at = time.monotonic()
    assert leaving.post("/logout", data={"csrf": csrf.group(1)}).status_code == 303
    tail.join(10)
    assert tail.ended is not None and tail.ended - out_at < 5.0
    for n in range(8):
        server.cli("token", "revoke", f"reader-{n}")  # their 64 streams end with them
    for tail in tails:
        tail.join(10)
        assert tail.ended is not None

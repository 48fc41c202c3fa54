"""The forwarder in a thread, real containers, real rsyslog; Elasticsearch and Loki as small local
HTTP servers that check the documented request format and fail (429, 503) before accepting."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import docker
import pytest

from dockyard.logs.forwarder import Forwarder, ForwarderConfig
from dockyard.logs.shipper import Backoff
from tests.integration.logs.harness import IMAGE, RUN_LABEL, TEST_LABEL, remove_run
from tests.ports import free_port

pytestmark = pytest.mark.integration
LINES = 500


def wait_for(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return bool(predicate())


@pytest.fixture
def run_id(docker_client: docker.DockerClient) -> Iterator[str]:
    rid = secrets.token_hex(4)
    yield rid
    remove_run(docker_client, rid)


def start_writer(client: docker.DockerClient, run_id: str) -> None:
    client.containers.run(IMAGE, ["sh", "-c", f'seq 1 {LINES} | sed "s/^/n /"; echo oops >&2'], detach=True,
                          labels={TEST_LABEL: "logs", RUN_LABEL: run_id, "dockyard.app": "shop",
                                  "dockyard.env": "testing", "dockyard.service": "web", "dockyard.release": "r9"})


def forward(tmp_path: Path, run_id: str, sinks: list[str]) -> tuple[Forwarder, threading.Event, threading.Thread]:
    config = ForwarderConfig(state_dir=tmp_path / "state", sinks=sinks, selectors={RUN_LABEL: run_id},
                             host="testhost", backoff=Backoff(first=0.05, cap=0.2))
    fwd = Forwarder(config)
    stop = threading.Event()
    thread = threading.Thread(target=fwd.run, args=(stop,), daemon=True)
    thread.start()
    return fwd, stop, thread


def test_syslog_to_a_real_rsyslog(tmp_path: Path, docker_client: docker.DockerClient, run_id: str) -> None:
    port = free_port()
    out = tmp_path / "rsyslog.out"
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(f'global(workDirectory="{tmp_path}")\nmodule(load="imtcp")\n'
                    f'input(type="imtcp" address="127.0.0.1" port="{port}")\n'
                    'template(name="t" type="string" string="%hostname% %app-name% %structured-data% %msg%\\n")\n'
                    f'action(type="omfile" file="{out}" template="t")\n')
    rsyslog = subprocess.Popen(["/usr/sbin/rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "pid")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 10)
        start_writer(docker_client, run_id)
        fwd, stop, thread = forward(tmp_path, run_id, [f"syslog+tcp://127.0.0.1:{port}"])
        try:
            assert wait_for(lambda: out.exists() and out.read_text().count("\n") >= LINES + 1)
        finally:
            stop.set()
            thread.join(20)
        text = out.read_text().splitlines()
        assert len(text) == LINES + 1
        # stdout and stderr are separate pipes: Docker may log "oops" before the stdout lines
        first = next(t for t in text if t.endswith(" n 1"))
        assert first.split(" ")[0] == "testhost" and 'service="web"' in first and 'release="r9"' in first
        assert [t.rsplit(" ", 1)[1] for t in text if 'stream="stdout"' in t] == [str(i) for i in range(1, LINES + 1)]
        assert any(t.endswith(" oops") and 'stream="stderr"' in t for t in text)
    finally:
        os.kill(rsyslog.pid, signal.SIGTERM)
        rsyslog.wait(10)


class FlakyServer:
    """Answers the first `failures` requests with the given statuses, then like the real service."""

    def __init__(self, failures: list[int], ok) -> None:  # type: ignore[no-untyped-def]
        self.failures = list(failures)
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.accepted: list[bytes] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append((self.path, dict(self.headers), body))
                if server.failures:
                    self.send_response(server.failures.pop(0))
                    self.end_headers()
                    return
                server.accepted.append(body)
                status, payload = ok(self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_elasticsearch_bulk_with_429_and_503(tmp_path: Path, docker_client: docker.DockerClient, run_id: str) -> None:
    def ok(path: str, body: bytes) -> tuple[int, bytes]:
        assert path == "/_bulk" and body.endswith(b"\n")
        n = body.count(b"\n") // 2
        return 200, json.dumps({"took": 1, "errors": False, "items": [{"create": {"status": 201}}] * n}).encode()

    server = FlakyServer([429, 503], ok)
    try:
        start_writer(docker_client, run_id)
        fwd, stop, thread = forward(tmp_path, run_id, [f"elasticsearch+http://127.0.0.1:{server.port}/applogs"])
        try:
            assert wait_for(lambda: sum(b.count(b"\n") // 2 for b in server.accepted) >= LINES + 1)
        finally:
            stop.set()
            thread.join(20)
        assert server.requests[0][1]["Content-Type"] == "application/x-ndjson"
        docs = [json.loads(line) for b in server.accepted for line in b.splitlines()[1::2]]
        stdout = [d["message"] for d in docs if d["stream"] == "stdout"]
        assert stdout == [f"n {i}" for i in range(1, LINES + 1)]  # oldest first, each once
        assert {d["host"] for d in docs} == {"testhost"} and {d["release"] for d in docs} == {"r9"}
        assert fwd.metrics.snapshot()["sinks"][fwd.shippers[0].key]["sink_retries"] == 2
    finally:
        server.close()


def test_loki_push_with_503(tmp_path: Path, docker_client: docker.DockerClient, run_id: str) -> None:
    server = FlakyServer([503, 429], lambda path, body: (204, b""))
    try:
        start_writer(docker_client, run_id)
        fwd, stop, thread = forward(tmp_path, run_id, [f"loki+http://127.0.0.1:{server.port}"])

        def values() -> list[list[str]]:
            return [v for b in server.accepted for s in json.loads(b)["streams"] for v in s["values"]]

        try:
            assert wait_for(lambda: len(values()) >= LINES + 1)
        finally:
            stop.set()
            thread.join(20)
        path, headers, body = server.requests[-1]
        assert path == "/loki/api/v1/push" and headers["Content-Type"] == "application/json"
        stream = json.loads(server.accepted[0])["streams"][0]
        assert stream["stream"]["service"] == "web" and stream["stream"]["host"] == "testhost"
        stdout = [v for b in server.accepted for s in json.loads(b)["streams"] if s["stream"]["stream"] == "stdout"
                  for v in s["values"]]
        assert [int(ts) for ts, _ in stdout] == sorted(int(ts) for ts, _ in stdout)
        assert [m for _, m in stdout] == [f"n {i}" for i in range(1, LINES + 1)]
    finally:
        server.close()

"""`dockyard server` answers within 1 s of its start (issue 30): it listens and answers /health
before it builds its application and starts its loops, and what it loads before it listens stays
small. (The time itself is bench/server.py's; these tests hold the order and the imports.)"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dockyard.server.front import Front
from tests.ports import free_port

# What `dockyard server` must not have loaded when it starts listening: the application (FastAPI,
# Starlette), templates, docker-py, the HTTP clients, pydantic and ruamel (Dockyard's home is found
# without the settings file's models).
BEFORE_LISTENING = {"fastapi", "starlette", "jinja2", "docker", "requests", "httpx", "boto3", "cryptography",
                    "prometheus_client", "acme", "etcd3gw", "pydantic", "pydantic_core", "ruamel"}


def call(app: Front, path: str, method: str = "GET") -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    asyncio.run(app({"type": "http", "path": path, "method": method}, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_health_answers_while_the_application_is_still_being_built() -> None:
    front = Front()
    status, body = call(front, "/health")
    assert (status, json.loads(body)) == (200, {"status": "ok", "api": "starting", "loops": "starting"})


def test_other_requests_wait_for_the_application_and_then_go_to_it() -> None:
    front = Front()
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    threading.Timer(0.2, front.ready, args=(app,)).start()
    t0 = time.monotonic()
    assert call(front, "/api/apps")[0] == 204
    assert time.monotonic() - t0 >= 0.15 and seen == ["/api/apps"]
    front.loops = "ready"
    assert json.loads(call(front, "/health")[1]) == {"status": "ok", "api": "ready", "loops": "ready"}
    assert call(front, "/health", "POST")[0] == 204  # only GET and HEAD are the front's own


def test_a_failed_start_is_said_on_every_request() -> None:
    front = Front()
    front.failed("settings.yml: invalid settings")
    status, body = call(front, "/api/apps")
    assert status == 503 and "settings.yml: invalid settings" in json.loads(body)["error"]


SERVE = """\
import sys
from dockyard.server import runtime

def start(front, stop):
    print("LOADED", " ".join(sorted({name.split(".")[0] for name in sys.modules})), flush=True)
    stop.wait()  # the application and the loops take until the server stops
    return []

runtime.serve(sys.argv[1], start=start)
"""


def get(port: int, path: str) -> tuple[int, bytes] | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    except ConnectionRefusedError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_the_server_answers_health_before_its_application_and_loops_are_started(dockyard_env: Path) -> None:
    port = free_port()
    root = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen([sys.executable, "-c", SERVE, f"127.0.0.1:{port}"], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        loaded = set(proc.stdout.readline().split()[1:])
        assert loaded and loaded & BEFORE_LISTENING == set()
        deadline = time.monotonic() + 30
        while (got := get(port, "/health")) is None:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        assert got[0] == 200 and json.loads(got[1]) == {"status": "ok", "api": "starting", "loops": "starting"}
        assert (dockyard_env / "server.pid").read_text().strip() == str(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

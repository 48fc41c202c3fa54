"""Start-up of `dockyard server` (issue 30): time from the process's start to its first answer,
against a bare FastAPI hello app served by uvicorn, started the same way, in the same run.

    .venv/bin/python bench/server.py [--runs 7]

Each round starts, in turn: `python -c pass` (Python's own start, to its exit); the hello app
(`python -m uvicorn`, to its first answer on /health); `dockyard server` in a fresh
DOCKYARD_HOME (to its first answer on /health, then on /api/apps with a token, then until its
background loops are started, as /health says). Prints the median and the worst of
the rounds and the ratio to the hello app. Target: `dockyard server` answers within 1 s.
The server talks to the engine of $DOCKER_HOST (its loops read what runs); it starts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.ports import free_port  # noqa: E402

HELLO = """\
from fastapi import FastAPI

app = FastAPI()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
"""
DOCKYARD = "import sys; from dockyard.cli.remote import main; sys.argv[0] = 'dockyard'; main()"


def get(port: int, path: str, token: str = "") -> tuple[int, bytes] | None:
    """One HTTP/1.0 GET on 127.0.0.1; None while nothing listens there."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    except (ConnectionRefusedError, ConnectionResetError):
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def until(t0: float, proc: subprocess.Popen[bytes], check: Callable[[], bool], limit: float = 60.0) -> float:
    while not check():
        if proc.poll() is not None:
            raise SystemExit(f"the process ended ({proc.returncode}) before it answered")
        if time.perf_counter() - t0 > limit:
            raise SystemExit("no answer in time")
        time.sleep(0.005)
    return time.perf_counter() - t0


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def python_pass() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - t0


def hello(folder: Path) -> float:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "hello:app", "--port", str(port), "--log-level",
                             "warning"], cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return until(t0, proc, lambda: get(port, "/health") is not None)
    finally:
        stop(proc)


def site(root: Path) -> tuple[dict[str, str], str]:
    """A fresh home for the server, and an admin token in it."""
    home = root / "home"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DOCKYARD_HOME": str(home),
           "DOCKYARD_CONFIG_STORE": f"sqlite:///{home}/config.db",
           "DOCKYARD_SECRET_KEY_FILE": str(root / "secret.key"), "DOCKYARD_WEBHOOK_SECRET": "bench"}
    made = subprocess.run([sys.executable, "-c", DOCKYARD, "token", "create", "--name", "bench", "--scope",
                           "admin"], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return env, made.stdout.strip()


def dockyard(root: Path) -> tuple[float, float, float]:
    """(first /health, first /api/apps, background loops started), seconds from the start."""
    env, token = site(root)
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", DOCKYARD, "server", "--listen", f"127.0.0.1:{port}"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def answered(path: str, token: str = "") -> Callable[[], bool]:
        return lambda: (got := get(port, path, token)) is not None and got[0] == 200

    def loops_ready() -> bool:
        got = get(port, "/health")
        return got is not None and got[0] == 200 and json.loads(got[1]).get("loops", "ready") == "ready"

    try:
        health = until(t0, proc, answered("/health"))
        api = until(t0, proc, answered("/api/apps", token))
        ready = until(t0, proc, loops_ready)
        return health, api, ready
    finally:
        stop(proc)


def row(name: str, values: list[float], peer: float | None) -> str:
    median = statistics.median(values)
    ratio = f"{median / peer:6.2f}x" if peer else "      -"
    return f"{name:52} {median * 1000:8.0f} {max(values) * 1000:8.0f} {ratio}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    runs = max(1, min(args.runs, 50))
    passes: list[float] = []
    hellos: list[float] = []
    servers: list[tuple[float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-server-") as tmp:
        folder = Path(tmp)
        (folder / "hello.py").write_text(HELLO)
        for i in range(runs):
            passes.append(python_pass())
            hellos.append(hello(folder))
            servers.append(dockyard(folder / f"site{i}"))
    peer = statistics.median(hellos)
    print(f"{runs} rounds, each process started in turn; ms from its start")
    print(f"{'':52} {'median':>8} {'worst':>8} {'/hello':>7}")
    print(row("python -c pass (to its exit)", passes, peer))
    print(row("FastAPI hello on uvicorn: first /health", hellos, peer))
    print(row("dockyard server: first /health", [s[0] for s in servers], peer) + "   [target < 1000 ms]")
    print(row("dockyard server: first /api/apps (token)", [s[1] for s in servers], peer))
    print(row("dockyard server: background loops started", [s[2] for s in servers], peer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

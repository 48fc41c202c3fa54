"""Faults of this host's engine, shared by the fault tests and bench/faults.py: restart dockerd as a
reboot or an upgrade does, and wait for what comes back."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import docker
import httpx

from tests import own_engine

ROOT = Path(__file__).resolve().parents[3]


def wait_for(predicate: Callable[[], object], timeout: float, step: float = 0.05) -> float | None:
    """Seconds until predicate() held, or None after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(step)
    return None


def answers(port: int, path: str = "/cgi-bin/release") -> str | None:
    """The body of a 200 from 127.0.0.1:port, else None."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1)
    except httpx.HTTPError:
        return None
    return response.text.strip() if response.status_code == 200 else None


def engine_answers(client: docker.DockerClient) -> bool:
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, OSError):
        return False


def restart_dockerd(client: docker.DockerClient) -> float:
    """Stop dockerd (SIGTERM) and start it as set-up does; the monotonic time at which the engine
    answered again. In a lane with an engine of its own (tests/lane.py), that one."""
    own = own_engine.current()
    if own is not None:
        return own.restart()
    pid = int(Path("/var/run/docker.pid").read_text().strip())
    os.kill(pid, signal.SIGTERM)
    if wait_for(lambda: not Path(f"/proc/{pid}").exists(), 60, 0.1) is None:
        raise AssertionError("dockerd did not stop within 60 s")
    subprocess.run(["bash", str(ROOT / "scripts" / "setup.sh"), "start"], check=True, capture_output=True,
                   timeout=180)
    if wait_for(lambda: engine_answers(client), 60) is None:
        raise AssertionError("the engine did not answer within 60 s of its start")
    return time.monotonic()

"""One app's long build holds up no other app's run: app A's build sleeps while app B's whole run
(build, push, test, deploy, smoke test) starts after it and ends first. Both where runs execute:
the detached workers the git hooks start (`dockyard pipeline work`), and `dockyard server`. A
follower of A's build (`pipeline logs -f`, the server's event stream) sees each of its lines once,
in order, though they are written in batches."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import docker
import pytest

from tests.apps import DOCKERFILE
from tests.conftest import run_cli
from tests.integration.server.conftest import DOCKYARD, ServedApp, Server, cleanup, prepare_app, site_env

pytestmark = pytest.mark.integration

PIPELINE = "pipeline:\n  branches: {main: [testing]}\n"
SLEEP = 25  # seconds A's build sleeps: far longer than B's whole run
LINES = 3000


@pytest.fixture
def two_apps(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[tuple[Server, ServedApp, ServedApp]]:
    site = Server(env=site_env(tmp_path), log=tmp_path / "server.log")
    site.token = site.cli("token", "create", "--name", "tester-token", "--scope", "admin").stdout.strip()
    apps: list[ServedApp] = []
    try:
        for _ in range(2):
            apps.append(prepare_app(tmp_path / "apps", site, {"replicas: 2": "replicas: 1"}, PIPELINE))
        # a step of its own (never in the build cache): 3,000 lines, then the sleep
        apps[0].push("slow build", "Dockerfile", DOCKERFILE + f"RUN echo {secrets.token_hex(8)} && seq {LINES} |"
                     f" sed 's/^/line /' && sleep {SLEEP}\n")
        yield site, apps[0], apps[1]
    finally:
        site.stop()
        stop_detached_workers(site)
        for served in apps:
            cleanup(docker_client, served.app.name)


def stop_detached_workers(site: Server) -> None:
    """A run a failed test left running: its detached worker (the pid in the run's owner) stops here."""
    for run in json.loads(site.cli("pipeline", "ls", "--json").stdout):
        if run["status"] == "running" and run["owner"]:
            pid = int(run["owner"].rsplit(":", 1)[1])
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def show(site: Server, run_id: int) -> dict:
    return json.loads(site.cli("pipeline", "show", str(run_id), "--json").stdout)


def wait(site: Server, run_id: int, done: tuple[str, ...] = ("succeeded",), building: bool = False,
         timeout: float = 120) -> dict:
    """The run once it has one of `done` statuses (or, with `building`, once its build step runs)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = show(site, run_id)
        if building and run["steps"][0]["status"] == "running":
            return run
        if run["status"] in done:
            return run
        assert run["status"] in ("queued", "running"), run
        time.sleep(0.3)
    raise AssertionError(f"run {run_id} did not get there in {timeout}s: {run}")


def at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def trigger(site: Server, served: ServedApp) -> int:
    queued = json.loads(site.cli("pipeline", "trigger", "--app", served.app.name, "--branch", "main",
                                 "--json").stdout)
    return int(queued[0]["run_id"])


def check_b_went_past_a(site: Server, slow_id: int, fast_id: int) -> None:
    fast = wait(site, fast_id, timeout=SLEEP + 60)
    assert fast["status"] == "succeeded", fast
    slow = show(site, slow_id)
    assert slow["status"] == "running" and slow["steps"][0]["status"] == "running", slow  # still building
    slow = wait(site, slow_id, timeout=SLEEP + 120)
    assert slow["status"] == "succeeded", slow
    build_ended = at(slow["steps"][0]["ended_at"])
    assert at(fast["created_at"]) >= at(slow["steps"][0]["started_at"])  # B came after A's build began (to the second)
    assert at(fast["ended_at"]) < build_ended  # and ended before it did
    logs = site.cli("pipeline", "logs", str(slow_id)).stdout
    assert f"sleep {SLEEP}" in logs and "deploy" in logs


def build_lines(text: str) -> list[str]:
    """The build step's `line N` lines, in the order printed (a time before each, or before a few)."""
    return [m[1] for m in map(re.compile(r"(?:\d\d:\d\d:\d\d )?(line \d+)").fullmatch, text.splitlines()) if m]


def test_detached_workers_run_two_apps_at_once(two_apps: tuple[Server, ServedApp, ServedApp]) -> None:
    site, slow, fast = two_apps
    slow_id = trigger(site, slow)  # no server: the trigger starts a detached worker
    with subprocess.Popen([DOCKYARD, "pipeline", "logs", str(slow_id), "-f"], env={**os.environ, **site.env},
                          stdout=subprocess.PIPE, text=True) as follower:
        try:
            wait(site, slow_id, building=True)
            fast_id = trigger(site, fast)
            check_b_went_past_a(site, slow_id, fast_id)
            followed, _ = follower.communicate(timeout=30)
        finally:
            if follower.poll() is None:
                follower.kill()
    assert build_lines(followed) == [f"line {n}" for n in range(1, LINES + 1)]
    assert followed == run_cli("pipeline", "logs", str(slow_id), env=site.env).stdout


def test_the_server_runs_two_apps_at_once(two_apps: tuple[Server, ServedApp, ServedApp]) -> None:
    site, slow, fast = two_apps
    site.start()

    def start(served: ServedApp) -> int:
        with site.client() as client:
            response = client.post("/api/runs", json={"app": served.app.name, "branch": "main"})
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    slow_id = start(slow)
    events: list[tuple[str, dict]] = []
    follower = threading.Thread(target=follow_events, args=(site, slow_id, events))
    follower.start()
    wait(site, slow_id, building=True)
    fast_id = start(fast)
    check_b_went_past_a(site, slow_id, fast_id)
    follower.join(30)
    assert not follower.is_alive()
    streamed = [d["line"] for e, d in events if e == "output" and d["idx"] == 0]
    with site.client() as client:
        kept = client.get(f"/api/runs/{slow_id}/steps/0/output").json()
        full = client.get(f"/api/runs/{slow_id}/steps/0/log")
    assert build_lines("\n".join(streamed)) == [f"line {n}" for n in range(1, LINES + 1)]
    assert streamed == kept["output"].splitlines() == full.text.splitlines()
    assert kept["printed"] == len(full.content) and full.headers["content-type"].startswith("text/plain")


def follow_events(site: Server, run_id: int, into: list[tuple[str, dict]]) -> None:
    with site.client() as client, client.stream("GET", f"/api/runs/{run_id}/events", timeout=None) as response:
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                into.append((event, json.loads(line.removeprefix("data: "))))

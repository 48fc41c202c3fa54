"""A blue-green app with a CPU-burning endpoint and scaling, plus the agent and the autoscaler as
processes this test (or bench) starts, tracks by PID and stops. Everything talks to 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
import httpx
import pytest

from tests.apps import TestApp, make_app
from tests.conftest import run_cli
from tests.integration.bluegreen.helpers import cleanup
from tests.ports import free_port

# A bounded busy loop: about 15 ms of one core per request (a few times that under the cpus limit).
BURN_CGI = """\
#!/bin/sh
echo "Content-Type: text/plain"
echo
i=0
while [ $i -lt {loops} ]; do i=$((i+1)); done
echo "$DOCKYARD_RELEASE $DOCKYARD_COLOR $HOSTNAME"
"""
DOCKYARD = str(Path(sys.executable).parent / "dockyard")


def scale_spec(app: str, live: int, preview: int, period: str = "2s", down_window: str = "12s",
               scaling: str = "") -> str:
    scaling = scaling or f"{{min: 1, max: 3, cpu_target: 50, period: {period}, scale_down_window: {down_window}}}"
    return textwrap.dedent(f"""\
        app: {app}
        registries: {{local: 127.0.0.1:5000}}
        services:
          web:
            command: [httpd, -f, -p, "8080", -h, /www]
            port: 8080
            health: {{path: /health, interval: 100ms, timeout: 1s, start_period: 8s}}
            replicas: 1
            resources: {{cpus: 0.25, memory: 32m}}
            stop_grace: 2s
        config:
          required: [GREETING]
          files: {{/etc/app/app.conf: app.conf.j2}}
        environments:
          production:
            engine: local
            registry: local
            strategy: blue-green
            router: {{live: {live}, preview: {preview}, rollback_window: 0s}}
            scaling:
              web: {scaling}
        """)


def make_scale_app(root: Path, loops: int = 4000, **spec: str) -> tuple[TestApp, int]:
    app = make_app(root)
    live, preview = free_port(), free_port()
    app.write("dockyard.yml", scale_spec(app.name, live, preview, **spec))
    app.write("www/cgi-bin/burn", BURN_CGI.format(loops=loops))
    app.commit("autoscale")
    return app, live


@dataclass
class Processes:
    """Child processes started here, each stopped by its own PID (SIGTERM, then SIGKILL)."""

    logs: Path
    children: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
        self.logs.mkdir(parents=True, exist_ok=True)
        out = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))
        self.children.append((name, proc))
        return proc

    def agent(self, app: str, cwd: Path) -> str:
        port = free_port()
        self.start("agent", [DOCKYARD, "agent", "--listen", f"127.0.0.1:{port}", "--no-logs",
                             "--label", f"dockyard.app={app}"], cwd)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"the agent did not answer at {url}: {self.log('agent')}")

    def autoscaler(self, agent: str, cwd: Path) -> None:
        self.start("autoscaler", [DOCKYARD, "autoscale", "run", "--agent", agent], cwd)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop_all(self) -> None:
        for _name, proc in reversed(self.children):
            if proc.poll() is None:
                # SIGTERM, not SIGINT: a suite started in the background (nohup ... &) hands its children
                # an ignored SIGINT, and the autoscaler then waited out the 15 s below
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        self.children.clear()


def serving_count(app: TestApp, env: str = "production", service: str = "web") -> int:
    from dockyard.engine.client import connect
    from dockyard.scale.facts import serving
    from dockyard.spec import load_spec

    engine = connect("local")
    try:
        return len(serving(engine, load_spec(app.spec_file), env, service))
    finally:
        engine.close()


def wait_for_count(app: TestApp, want: int, timeout: float, seen: list[int] | None = None) -> float:
    """Seconds until `want` replicas serve; records every count seen on the way."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        count = serving_count(app)
        if seen is not None:
            seen.append(count)
        if count == want:
            return time.monotonic() - start
        time.sleep(0.25)
    raise AssertionError(f"{want} replicas did not serve within {timeout:g}s (last {seen[-5:] if seen else '?'})")


def ok(*args: str) -> str:
    """`dockyard ARGS` in the current folder; its stdout, or a failed assertion with its output."""
    result = run_cli(*args)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@contextmanager
def scale_app_running(tmp_path: Path, home: Path, client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch,
                      **spec: str) -> Iterator[tuple[TestApp, int, Processes]]:
    """A scale app as the current folder, with the processes a test starts; all removed afterwards."""
    app, live = make_scale_app(tmp_path, **spec)
    monkeypatch.chdir(app.path)
    procs = Processes(tmp_path / "logs")
    try:
        yield app, live, procs
    finally:
        procs.stop_all()
        cleanup(client, app, home)

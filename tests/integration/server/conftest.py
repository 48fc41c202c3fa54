"""A real `dockyard server` subprocess on a free 127.0.0.1 port, with its own DOCKYARD_HOME."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
import httpx
import pytest

from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.ports import free_port

SECRET = "hook-secret-for-tests"
DOCKYARD = str(Path(sys.executable).parent / "dockyard")


def site_env(root: Path) -> dict[str, str]:
    home = root / "home"
    return {"DOCKYARD_HOME": str(home), "DOCKYARD_CONFIG_STORE": f"sqlite:///{home}/config.db",
            "DOCKYARD_SECRET_KEY_FILE": str(root / "keys" / "secret.key"), "DOCKYARD_RUN": "/run/dockyard-test",
            "DOCKYARD_USER": "tester", "DOCKYARD_WEBHOOK_SECRET": SECRET}


@dataclass
class Server:
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    token: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, cwd: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, cwd=cwd, env=self.env, input=input)
        assert result.returncode == 0, result.stderr
        return result

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([DOCKYARD, "server", "--listen", f"127.0.0.1:{self.port}"],
                                         env={**os.environ, **self.env}, stdout=out, stderr=out,
                                         stdin=subprocess.DEVNULL)
        self.started.append(self.proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("server did not answer /health:\n" + self.log.read_text())

    def stop(self) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(10)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def client(self, token: str | None = None) -> httpx.Client:
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def wait_run(self, run_id: int, until: tuple[str, ...] = ("waiting", "succeeded"), timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        with self.client() as client:
            while time.monotonic() < deadline:
                run = client.get(f"/api/runs/{run_id}", params={"output": True}).json()
                if run["status"] in until:
                    return run
                if run["status"] in ("failed", "cancelled", "interrupted", "superseded"):
                    raise AssertionError(f"run {run_id} {run['status']}: {run['error']}\n" + "\n".join(
                        f"--- {s['idx']} {s['name']} {s['status']}\n{s['output']}" for s in run["steps"]))
                time.sleep(0.3)
        raise AssertionError(f"run {run_id} still {run['status']} after {timeout}s")


def dashboard_session(server: Server, token: str) -> httpx.Client:
    """A client signed in to the dashboard with `token` (its session cookie)."""
    client = httpx.Client(base_url=server.url, timeout=30)
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/login").text)
    assert nonce
    assert client.post("/login", data={"nonce": nonce.group(1), "token": token}).status_code == 303
    return client


@dataclass
class ServedApp:
    app: TestApp
    bare: Path

    def push(self, message: str, path: str = "www/index.html", text: str | None = None) -> str:
        self.app.write(path, text if text is not None else f"{message}\n")
        sha = self.app.commit(message)
        self.app.git("push", "-q", str(self.bare), "main")
        return sha


def prepare_app(root: Path, server: Server, spec_edit: dict[str, str], extra: str) -> ServedApp:
    """A test app with a bare clone (the team's remote) registered with `dockyard app add`."""
    app = make_app(root)
    text = app.spec_file.read_text()
    for old, new in spec_edit.items():
        assert old in text
        text = text.replace(old, new)
    app.write("dockyard.yml", text + extra)
    app.commit("spec for the server tests")
    bare = root / f"{app.name}.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(app.path), str(bare)], check=True)
    server.cli("app", "add", app.name, "--repo", str(bare))
    for env in ("testing", "staging", "production"):
        server.cli("config", "set", env, "GREETING=hi", cwd=app.path)
    return ServedApp(app, bare)


@contextmanager
def serving(server: Server, root: Path, client: docker.DockerClient, spec_edit: dict[str, str],
            extra: str) -> Iterator[tuple[Server, ServedApp]]:
    """A prepared app with the server started; stopped and cleaned up afterwards."""
    app = prepare_app(root, server, spec_edit, extra)
    server.start()
    try:
        yield server, app
    finally:
        server.stop()
        cleanup(client, app.app.name)


@pytest.fixture(scope="module")
def server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    server = Server(env=site_env(root), log=root / "server.log")
    server.token = server.cli("token", "create", "--name", "tester-token", "--scope", "admin").stdout.strip()
    yield server
    server.stop()
    for proc in server.started:  # every server process this module started, by its own PID
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def docker_client_module() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


def cleanup(client: docker.DockerClient, app: str) -> None:
    remove_app_resources(client, app)

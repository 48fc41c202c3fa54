"""The fault matrix, the rows where Dockyard cannot go on (issue 14): a part it needs is down or full.
Each must refuse with one clear message, change nothing that runs, lose nothing recorded, and work
again once the part is back.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.state.db import StateDB
from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.ports import free_port

pytestmark = pytest.mark.integration


def ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def refused(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


def running(client: docker.DockerClient, app: str) -> set[str]:
    return {c.id for c in client.containers.list(filters={"label": f"dockyard.app={app}"})}


def releases(app: TestApp, env: str) -> list[object]:
    db = StateDB()
    try:
        return db.releases(app.name, env, limit=10)
    finally:
        db.close()


class Daemon:
    """A private etcd or registry on free 127.0.0.1 ports, its data kept across a stop and a start."""

    def __init__(self, argv: list[str], health: str) -> None:
        self.argv, self.health = argv, health
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(self.health, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert self.proc.poll() is None and time.monotonic() < deadline, f"{self.argv[0]} did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def app(tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[TestApp]:
    made = make_app(tmp_path)
    monkeypatch.chdir(made.path)
    try:
        yield made
    finally:
        remove_app_resources(docker_client, made.name)


@pytest.fixture
def etcd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    client, peer = free_port(), free_port()
    daemon = Daemon(["etcd", "--name", "dy-fault", "--data-dir", str(tmp_path / "etcd"),
                     "--listen-client-urls", f"http://127.0.0.1:{client}",
                     "--advertise-client-urls", f"http://127.0.0.1:{client}",
                     "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                     "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                     "--initial-cluster", f"dy-fault=http://127.0.0.1:{peer}"], f"http://127.0.0.1:{client}/health")
    monkeypatch.setenv("DOCKYARD_CONFIG_STORE", f"etcd://127.0.0.1:{client}/dy-fault")
    try:
        yield daemon.start()
    finally:
        daemon.stop()


def test_etcd_down_at_a_deploy_refuses_it_and_nothing_changes(app: TestApp, etcd: Daemon,
                                                              docker_client: docker.DockerClient) -> None:
    ok("build")
    ok("config", "set", "testing", "GREETING=one")
    ok("deploy", "testing")
    before, history = running(docker_client, app.name), releases(app, "testing")
    etcd.stop()
    refused(run_cli("deploy", "testing"), "etcd at 127.0.0.1", "is not reachable")
    assert running(docker_client, app.name) == before  # not one container touched
    assert releases(app, "testing") == history  # nothing recorded
    etcd.start()  # the same data: every revision is still there
    assert "already runs release" in ok("deploy", "testing")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[tuple[Daemon, str]]:
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem: {{rootdirectory: {tmp_path / 'registry'}}}\n"
                      f"http: {{addr: 127.0.0.1:{port}}}\n")
    daemon = Daemon(["docker-registry", "serve", str(config)], f"http://127.0.0.1:{port}/v2/")
    try:
        yield daemon.start(), f"127.0.0.1:{port}"
    finally:
        daemon.stop()


def test_a_registry_down_at_a_push_fails_the_build_and_records_no_push(app: TestApp,
                                                                      registry: tuple[Daemon, str]) -> None:
    daemon, address = registry
    app.write("dockyard.yml", app.spec_file.read_text().replace("remote: 127.0.0.1:5001", f"remote: {address}"))
    commit = app.commit("a registry of its own")
    daemon.stop()
    refused(run_cli("build"), address)
    pushed = StateDB().pushes(app.name, commit[:7])
    assert address not in pushed  # so no deploy can take the image from there
    daemon.start()
    ok("build")
    assert address in StateDB().pushes(app.name, commit[:7])


def test_a_locked_state_database_is_waited_for_and_the_deploy_goes_on(app: TestApp, dockyard_env: Path) -> None:
    ok("build")
    ok("config", "set", "testing", "GREETING=one")
    holder = sqlite3.connect(dockyard_env / "state.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # another process (a backup, a stuck server) holds it
    released = threading.Timer(3.0, holder.rollback)
    released.start()
    try:
        started = time.monotonic()
        out = ok("deploy", "testing")
        assert time.monotonic() - started >= 2.5  # it waited for the lock, then went on
        assert "healthy" in out
    finally:
        released.join()
        holder.close()
    live = StateDB().live_release(app.name, "testing")
    assert live is not None


@pytest.fixture
def small_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """DOCKYARD_HOME on a 16 MiB tmpfs of its own, so it can be filled."""
    home = tmp_path / "small-home"
    home.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "dockyard-test", str(home)], check=True)
    monkeypatch.setenv("DOCKYARD_HOME", str(home))
    monkeypatch.setenv("DOCKYARD_CONFIG_STORE", f"sqlite:///{home}/config.db")
    try:
        yield home
    finally:
        # lazily: a connection the test process still holds must not leave the mount behind
        subprocess.run(["umount", "--lazy", str(home)], check=True)


def test_a_full_disk_under_the_home_refuses_clearly_and_loses_nothing(app: TestApp, small_home: Path,
                                                                     docker_client: docker.DockerClient) -> None:
    ok("build")
    ok("config", "set", "testing", "GREETING=one")
    ok("deploy", "testing")
    history = releases(app, "testing")
    filler = small_home / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):  # to the last byte
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    before = running(docker_client, app.name)
    refused(run_cli("config", "set", "testing", "GREETING=two"), "config.db cannot be used", "disk has room")
    again = run_cli("deploy", "testing")  # the same release: nothing to change, maybe nothing to write
    assert "Traceback" not in again.stderr, again.stderr
    assert running(docker_client, app.name) == before
    filler.unlink()
    assert releases(app, "testing")[-len(history):] == history  # nothing lost
    ok("config", "set", "testing", "GREETING=two")  # and it works again once there is room
    ok("deploy", "testing")

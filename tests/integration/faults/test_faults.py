"""The fault matrix, first rows (issue 14): each test injects one fault into a running blue-green
environment under a bounded load and asserts that it recovers by itself within its bound, with no
answer from a release that should not serve, or refuses clearly and touches nothing foreign.

They restart this host's dockerd and kill nginx masters: they run serially, like the whole suite.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.router.nginx import NginxRouter, RouterError
from dockyard.router.procs import orphans, read_proc
from dockyard.router.watch import BalancerWatch
from tests.conftest import run_cli
from tests.integration.bluegreen.helpers import cleanup, make_bg_app
from tests.integration.bluegreen.load import Load

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


def ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def answers(port: int) -> str | None:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/cgi-bin/release", timeout=1)
    except httpx.HTTPError:
        return None
    return response.text.strip() if response.status_code == 200 else None


def wait_for(predicate, timeout: float, step: float = 0.05) -> float | None:  # type: ignore[no-untyped-def]
    """Seconds until predicate() held, or None after `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(step)
    return None


def published(client: docker.DockerClient, app: str) -> dict[str, str]:
    return {c.name: c.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
            for c in client.containers.list(filters={"label": f"dockyard.app={app}"})}


@pytest.fixture
def live_app(tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple]:
    """A blue-green app with release one live, and the balancer watch running as the server runs it."""
    app, live, preview = make_bg_app(tmp_path)
    monkeypatch.chdir(app.path)
    ok("build")
    ok("config", "set", "production", "GREETING=one")
    ok("deploy", "production")
    release = answers(live)
    assert release is not None and release.endswith("blue")
    stop = threading.Event()
    lines: list[str] = []
    watcher = threading.Thread(target=BalancerWatch(report=lines.append).run, args=(stop,), daemon=True)
    watcher.start()
    try:
        yield app, live, release, lines
    finally:
        stop.set()
        watcher.join(10)
        cleanup(docker_client, app, dockyard_env)


def dockerd_pid() -> int:
    return int(Path("/var/run/docker.pid").read_text().strip())


def restart_dockerd(client: docker.DockerClient) -> float:
    """Stop dockerd (SIGTERM, as a reboot or an upgrade does) and start it as set-up does; the
    monotonic time at which the engine answered again."""
    pid = dockerd_pid()
    os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: not Path(f"/proc/{pid}").exists(), 60, 0.1) is not None, "dockerd did not stop"
    subprocess.run(["bash", str(ROOT / "scripts" / "setup.sh"), "start"], check=True, capture_output=True,
                   timeout=180)
    assert wait_for(lambda: _pings(client), 60, 0.05) is not None
    return time.monotonic()


def _pings(client: docker.DockerClient) -> bool:
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, OSError):
        return False


def test_an_engine_restart_brings_live_back_on_the_same_ports(live_app, docker_client: docker.DockerClient
                                                              ) -> None:
    app, live, release, lines = live_app
    before = published(docker_client, app.name)
    load = Load(f"http://127.0.0.1:{live}/cgi-bin/release", threads=4, max_seconds=120).start()
    try:
        engine_back = restart_dockerd(docker_client)
        back = wait_for(lambda: answers(live) == release, 30)
        live_again = time.monotonic() if back is not None else None
        time.sleep(1)
    finally:
        hits = load.stop()
    assert live_again is not None, f"live never answered again; the watch said: {lines}"
    # the target: live again within 5 s of the engine answering
    assert live_again - engine_back <= 5.0, f"live answered {live_again - engine_back:.1f}s after the engine"
    assert published(docker_client, app.name) == before  # each replica kept its port
    wrong = [h for h in hits if h.status == 200 and h.body != release]
    assert wrong == []  # nothing but the live release ever answered


def test_an_engine_restart_in_the_middle_of_a_deploy_fails_it_clearly_and_the_next_deploy_finishes(
        live_app, docker_client: docker.DockerClient) -> None:
    app, live, release, lines = live_app
    # a slow smoke test holds the deploy between its new colour's start and the switch
    spec = (app.path / "dockyard.yml").read_text()
    app.write("dockyard.yml", spec.replace("run: [sh, -c, 'wget", "run: [sh, -c, 'sleep 8 && wget"))
    app.commit("a slow smoke test")
    ok("build")
    ok("config", "set", "production", "GREETING=two")
    load = Load(f"http://127.0.0.1:{live}/cgi-bin/release", threads=4, max_seconds=150).start()
    try:
        deploy = subprocess.Popen([str(Path(sys.executable).parent / "dockyard"), "deploy", "production"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert wait_for(lambda: "green" in "".join(
            c.name for c in docker_client.containers.list(filters={"label": f"dockyard.app={app.name}"})), 60
                        ) is not None
        time.sleep(1.0)  # green runs and is healthy; the smoke test is sleeping
        engine_back = restart_dockerd(docker_client)
        out, err = deploy.communicate(timeout=180)
        back = wait_for(lambda: answers(live) == release, 30)
        live_again = time.monotonic() if back is not None else None
    finally:
        hits = load.stop()
    assert deploy.returncode != 0, out
    assert "Traceback" not in err and "error:" in err, err
    assert live_again is not None and live_again - engine_back <= 5.0, \
        f"live not back: {live_again and live_again - engine_back} s after the engine; {err}; {lines[-3:]}"
    assert [h for h in hits if h.status == 200 and h.body != release] == []  # the new release never served
    again = ok("deploy", "production")  # the next deploy finishes the job
    assert "live listener" in again
    now = answers(live)
    assert now is not None and now != release and now.split()[0] != release.split()[0]


def test_a_killed_nginx_master_is_restarted_and_its_orphans_ended(live_app, dockyard_env: Path) -> None:
    app, live, release, lines = live_app
    router = NginxRouter(app.name, "production", home=dockyard_env)
    master = router.pid()
    assert master is not None
    load = Load(f"http://127.0.0.1:{live}/cgi-bin/release", threads=4, max_seconds=60).start()
    try:
        time.sleep(0.5)
        os.kill(master, signal.SIGKILL)  # a crash: the workers live on, holding the listening sockets
        killed = time.monotonic()
        restarted = wait_for(lambda: router.pid() not in (None, master) and answers(live) == release, 10)
        time.sleep(1)
    finally:
        hits = load.stop()
    assert restarted is not None and restarted <= 2.0, f"live not back from a new master within 2 s: {lines}"
    assert wait_for(lambda: orphans(master) == [], 15) is not None  # the dead master's workers ended
    assert any("started again" in line for line in lines)
    after = [h for h in hits if h.sent > killed]
    assert after and all(h.body == release for h in after if h.status == 200)


def test_a_port_held_by_a_foreign_process_is_named_and_left_alone(tmp_path: Path, dockyard_env: Path,
                                                                  docker_client: docker.DockerClient,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    app, live, _ = make_bg_app(tmp_path)
    monkeypatch.chdir(app.path)
    squatter = subprocess.Popen([sys.executable, "-c", "import socket, time; s = socket.socket(); "
                                 f"s.bind(('127.0.0.1', {live})); s.listen(); time.sleep(120)"])
    try:
        assert wait_for(lambda: _listening(live), 10) is not None
        ok("build")
        ok("config", "set", "production", "GREETING=one")
        result = run_cli("deploy", "production")
        assert result.returncode != 0
        assert f"127.0.0.1:{live} is held by pid {squatter.pid}" in result.stderr
        assert "Traceback" not in result.stderr
        assert squatter.poll() is None  # never touched
    finally:
        squatter.kill()
        squatter.wait()
        cleanup(docker_client, app, dockyard_env)


def test_a_pid_file_naming_a_foreign_process_never_gets_it_signalled(live_app, dockyard_env: Path) -> None:
    app, live, release, _ = live_app
    router = NginxRouter(app.name, "production", home=dockyard_env)
    master = router.pid()
    foreign = subprocess.Popen(["sleep", "60"])
    try:
        router.paths.pid.write_text(f"{foreign.pid}\n")
        assert router.pid() is None  # not our master: Dockyard does not take it for one
        assert router.end_orphans() == []
        with pytest.raises(RouterError, match=rf"127.0.0.1:{live} is held by pid \d+ \(nginx: master process"):
            router.ensure_running()  # our real master still holds the ports: said, not forced
        assert foreign.poll() is None and read_proc(foreign.pid) is not None
        assert answers(live) == release  # and the live balancer never stopped serving
    finally:
        router.paths.pid.write_text(f"{master}\n")  # so the clean-up stops the real one
        foreign.kill()
        foreign.wait()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_balancer_configuration_edited_by_hand_is_rendered_again(live_app, dockyard_env: Path) -> None:
    app, live, release, lines = live_app
    router = NginxRouter(app.name, "production", home=dockyard_env)
    text = router.paths.conf.read_text()
    state = router.current()
    assert state is not None and state.live is not None
    # someone points the live upstream at a port where nothing answers, and reloads nginx
    edited = text
    for server in state.live.servers:
        edited = edited.replace(f"server {server} ", "server 127.0.0.1:9 ")
    router.paths.conf.write_text(edited)
    pid = router.pid()
    assert pid is not None
    os.kill(pid, signal.SIGHUP)
    restored = wait_for(lambda: router.paths.conf.read_text() == text.replace(
        f'"generation":{state.generation}', f'"generation":{state.generation + 1}'), 5)
    assert restored is not None, f"not rendered again: {lines}"
    assert wait_for(lambda: any("edited by hand" in line for line in lines), 5) is not None, lines
    assert wait_for(lambda: answers(live) == release, 5) is not None


FLAPPING_CGI = """\
#!/bin/sh
if [ -f /tmp/flap ]; then
  printf 'HTTP/1.0 503 Service Unavailable\\r\\nContent-Type: text/plain\\r\\n\\r\\nflapping\\n'
  exit 0
fi
echo "Content-Type: text/plain"
echo
echo "$DOCKYARD_RELEASE $DOCKYARD_COLOR"
"""


def test_a_replica_that_flaps_costs_no_request(live_app, docker_client: docker.DockerClient) -> None:
    """One replica answers 503 every other half second: the balancer sends those requests to the
    other replica (proxy_next_upstream), and no user sees a failure."""
    app, live, _, _ = live_app
    app.write("www/cgi-bin/release", FLAPPING_CGI)
    app.commit("a replica can be made to flap")
    ok("build")
    ok("deploy", "production")
    release = answers(live)
    assert release is not None and release.endswith("green")
    victim = next(c for c in docker_client.containers.list(filters={"label": f"dockyard.app={app.name}"})
                  if c.name.endswith("-green-1"))
    load = Load(f"http://127.0.0.1:{live}/cgi-bin/release", threads=4, max_seconds=60).start()
    try:
        for _ in range(8):  # 4 s of flapping
            victim.exec_run(["touch", "/tmp/flap"])
            time.sleep(0.25)
            assert victim.exec_run(["wget", "-qO-", "http://127.0.0.1:8080/cgi-bin/release"]).exit_code != 0
            time.sleep(0.25)
            victim.exec_run(["rm", "-f", "/tmp/flap"])
            time.sleep(0.5)
    finally:
        hits = load.stop()
    assert len(hits) > 100
    assert [h for h in hits if h.status != 200] == []
    assert {h.body for h in hits} == {release}


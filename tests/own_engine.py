"""A dockerd of the lane's own, in the lane's network namespace (tests/lane.py makes both), so the
tests that restart their engine or make it a Swarm manager run beside the rest of the suite
instead of alone after it.

It is a real engine: the same dockerd binary with its defaults (its own docker0 and iptables rules,
in the lane's namespace), the registries and etcd of this host at 127.0.0.1 as everywhere (the lane
relays them), Dockyard and docker-py reaching it through DOCKER_HOST as a user's would.

Never in the root namespace: a second dockerd there deletes the host dockerd's docker0 when it
starts with --bridge=none, or restarts with --default-address-pool (daemon_unix.go,
removeDefaultBridgeInterface), and shares its iptables chains. Only processes started here are
stopped, and by their PID.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from contextlib import closing
from pathlib import Path

import docker

ENV = "DOCKYARD_TEST_OWN_ENGINE"  # the lane's name; set by tests/lane.py
BASE_IMAGES = ("dockyard/busybox:1.35", "dockyard/redis:7.0")


def _alive(pid: int, comm: str) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip().startswith(comm)
    except OSError:
        return False


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def stop_pid(pid: int | None, comm: str, timeout: float = 30) -> None:
    """SIGTERM a process that is not our child, then SIGKILL after `timeout`."""
    if not pid or not _alive(pid, comm):
        return
    os.kill(pid, 15)
    deadline = time.monotonic() + timeout
    while _alive(pid, comm) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid, comm):
        os.kill(pid, 9)


def inside_namespace(name: str) -> bool:
    """Whether this process runs in the network namespace /var/run/netns/NAME (tests/lane.py's)."""
    try:
        return os.stat("/proc/self/ns/net").st_ino == os.stat(f"/var/run/netns/{name}").st_ino
    except OSError:
        return False


class OwnEngine:
    def __init__(self, name: str) -> None:
        self.name = name
        self.root = Path("/var/lib/dockyard/test-engines") / name  # overlay2 wants the root fs
        self.run_dir = Path("/run") / name
        self.host = f"unix://{self.run_dir}/docker.sock"
        self.process: subprocess.Popen[bytes] | None = None
        self._client: docker.DockerClient | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker.DockerClient(base_url=self.host, timeout=60)
        return self._client

    def argv(self) -> list[str]:
        return ["dockerd", "--data-root", str(self.root / "data"), "--exec-root", str(self.run_dir / "exec"),
                "--pidfile", str(self.run_dir / "dockerd.pid"), "-H", self.host, "--shutdown-timeout", "3"]

    def up(self) -> OwnEngine:
        if not inside_namespace(self.name):
            raise RuntimeError(f"{ENV}={self.name} is set but this process is not in that network namespace: "
                               "the lane's engine starts only inside the lane (tests/lane.py)")
        self._stop_leftover()
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "exec").mkdir(parents=True, exist_ok=True)
        try:
            self.start()
            self._seed_images()
        except BaseException:
            self.down()
            raise
        return self

    def start(self) -> float:
        """Start dockerd; the monotonic time at which it answered."""
        with open(self.root / "dockerd.log", "ab") as log:  # the child has its own copy of the descriptor
            self.process = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.root / "dockerd.log").read_text(errors="replace")[-1500:]
                raise RuntimeError(f"the lane's dockerd {self.name} exited: {tail}")
            if self.answers():
                return time.monotonic()
            time.sleep(0.05)
        raise RuntimeError(f"the lane's dockerd {self.name} did not answer within 60 s")

    def stop(self) -> None:
        """SIGTERM, as a reboot or an upgrade stops it; then its containerd."""
        if self.process is not None:  # our child: wait() reaps it (a zombie still has a /proc entry)
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
        stop_pid(_pid_in(self.run_dir / "exec" / "containerd" / "containerd.pid"), "containerd")

    def restart(self) -> float:
        """Stop it and start it again; the monotonic time at which it answered again."""
        self.stop()
        return self.start()

    def answers(self) -> bool:
        try:
            return bool(self.client.ping())
        except (docker.errors.DockerException, OSError):
            return False

    def down(self) -> None:
        """Every container and the swarm membership, then dockerd and its files."""
        if self.process is not None and self.answers():
            for container in self.client.containers.list(all=True):
                try:
                    container.remove(force=True, v=True)
                except docker.errors.NotFound:
                    pass
            if self.client.info()["Swarm"]["LocalNodeState"] != "inactive":
                self.client.swarm.leave(force=True)
        if self._client is not None:
            self._client.close()
            self._client = None
        self.stop()
        for path in (self.root, self.run_dir):
            shutil.rmtree(path, ignore_errors=True)

    def _stop_leftover(self) -> None:
        """A dockerd of this lane left by a run that was killed: ours by its pidfile and its name."""
        stop_pid(_pid_in(self.run_dir / "dockerd.pid"), "dockerd", timeout=60)
        stop_pid(_pid_in(self.run_dir / "exec" / "containerd" / "containerd.pid"), "containerd")
        shutil.rmtree(self.root, ignore_errors=True)

    def _seed_images(self) -> None:
        """The base images set-up built on the host's dockerd (nothing can be pulled here)."""
        with closing(docker.DockerClient(base_url="unix:///var/run/docker.sock", timeout=120)) as host:
            for name in BASE_IMAGES:
                self.client.images.load(b"".join(host.images.get(name).save(named=True)))


_current: OwnEngine | None = None


def current() -> OwnEngine | None:
    """The lane's engine when this process runs in a lane that has one (tests/conftest.py starts it)."""
    return _current


def start_for_session() -> OwnEngine | None:
    global _current
    name = os.environ.get(ENV)
    if not name:
        return None
    _current = OwnEngine(name).up()
    os.environ["DOCKER_HOST"] = _current.host
    return _current


def stop_for_session() -> None:
    global _current
    if _current is not None:
        _current.down()
        _current = None

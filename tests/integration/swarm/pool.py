"""A real two-node Swarm on one machine, for the tests: the main dockerd (manager) and a second
dockerd inside its own network namespace (worker), joined over a veth pair.

    root namespace  dy-sw0 10.219.0.1/24  <-- veth -->  dy-sw1 10.219.0.2/24  netns dy-node2
    main dockerd: swarm manager, advertises 10.219.0.1:2377
                                                        dockerd (own data/exec root, pidfile,
                                                        bridge dy2br0 10.220.0.1/24 made in the
                                                        netns, --iptables=false): worker

Published ports: a swarm-scoped bridge network (`dyt-pub`) made from a config-only network on
each node whose host_binding_ipv4 is that node's address: 127.0.0.1 on the manager, 10.219.0.2
on the worker. Node label dockyard.publish-addr tells Dockyard where to probe.
Images: a forwarder listens on 127.0.0.1:5000 *inside* the netns and relays to the registry on
127.0.0.1:5000 of the root namespace, so `127.0.0.1:5000/app@sha256:...` pulls on both nodes.

Teardown restores the main daemon: out of swarm mode (it must have been out before), the
networks it had, docker0 untouched. Every step of teardown runs even if an earlier one failed.
Only processes started here are stopped, by PID.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import docker

from tests.own_engine import stop_pid  # a process of ours that is not our child, by its PID

NETNS = "dy-node2"
ROOT_IF, NS_IF = "dy-sw0", "dy-sw1"
ROOT_ADDR, NODE2_ADDR = "10.219.0.1", "10.219.0.2"
NS_BRIDGE, NS_BRIDGE_CIDR = "dy2br0", "10.220.0.1/24"
PUBLISH_NET, PUBLISH_CFG = "dyt-pub", "dyt-pub-cfg"
BASE = Path("/var/lib/dockyard/swarm-node2")  # on the root fs: overlay2 cannot sit on overlay/tmpfs
RUN = Path("/run/dy-node2")
NODE2_HOST = f"unix://{RUN}/docker.sock"
# The manager: the lane's own engine under `make test` (tests/lane.py), else this host's.
MAIN_HOST = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def sh(*argv: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def wait_for(what: str, predicate, timeout: float, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Pool:
    main: docker.DockerClient
    manager_id: str = ""
    worker_id: str = ""
    dockerd: subprocess.Popen | None = None
    forwarder: subprocess.Popen | None = None
    networks_before: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ node2's dockerd
    def node2(self) -> closing[docker.DockerClient]:
        return closing(docker.DockerClient(base_url=NODE2_HOST, timeout=30))

    def start_node2(self) -> None:
        (BASE / "data").mkdir(parents=True, exist_ok=True)
        (BASE / "exec").mkdir(parents=True, exist_ok=True)
        RUN.mkdir(parents=True, exist_ok=True)
        logfile = open(BASE / "dockerd.log", "ab")
        # nsenter --net (not `ip netns exec`, which remounts /sys and hides the cgroup mounts)
        self.dockerd = subprocess.Popen(
            ["nsenter", f"--net=/var/run/netns/{NETNS}", "dockerd", "--data-root", str(BASE / "data"),
             "--exec-root", str(BASE / "exec"), "--pidfile", str(BASE / "dockerd.pid"), "-H", NODE2_HOST,
             "--bridge", NS_BRIDGE, "--iptables=false", "--cgroup-parent", "/dy-node2",
             "--shutdown-timeout", "3"],
            stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

        def answers() -> bool:
            if self.dockerd and self.dockerd.poll() is not None:
                raise RuntimeError(f"node2 dockerd exited: {(BASE / 'dockerd.log').read_text()[-1500:]}")
            try:
                with self.node2() as client:
                    return bool(client.ping())
            except Exception:
                return False

        wait_for("node2's dockerd to answer", answers, 40)

    def stop_node2(self) -> None:
        containerd = BASE / "exec" / "containerd" / "containerd.pid"
        cpid = int(containerd.read_text()) if containerd.exists() else None
        if self.dockerd is not None:
            stop_pid(self.dockerd.pid, "dockerd", timeout=20)
            try:
                self.dockerd.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.dockerd = None
        stop_pid(cpid, "containerd", timeout=20)

    # ------------------------------------------------------------------ build and tear down
    def up(self) -> None:
        state = self.main.info()["Swarm"]["LocalNodeState"]
        if state != "inactive":
            raise RuntimeError(f"the main dockerd is already in a swarm ({state}); the pool test will not touch it")
        self.networks_before = {n.name for n in self.main.networks.list()}
        sh("ip", "netns", "add", NETNS)
        sh("ip", "link", "add", ROOT_IF, "type", "veth", "peer", "name", NS_IF)
        sh("ip", "link", "set", NS_IF, "netns", NETNS)
        sh("ip", "addr", "add", f"{ROOT_ADDR}/24", "dev", ROOT_IF)
        sh("ip", "link", "set", ROOT_IF, "up")
        inside = ("ip", "netns", "exec", NETNS)
        sh(*inside, "ip", "addr", "add", f"{NODE2_ADDR}/24", "dev", NS_IF)
        sh(*inside, "ip", "link", "set", NS_IF, "up")
        sh(*inside, "ip", "link", "set", "lo", "up")
        sh(*inside, "ip", "link", "add", NS_BRIDGE, "type", "bridge")
        sh(*inside, "ip", "addr", "add", NS_BRIDGE_CIDR, "dev", NS_BRIDGE)
        sh(*inside, "ip", "link", "set", NS_BRIDGE, "up")
        self.forwarder = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("forward.py")), f"/var/run/netns/{NETNS}",
             "127.0.0.1:5000", "127.0.0.1:5000"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.forwarder.stdout and self.forwarder.stdout.readline().strip() == "ready"
        self.start_node2()
        self.main.swarm.init(advertise_addr=ROOT_ADDR, listen_addr=f"{ROOT_ADDR}:2377",
                             dispatcher_heartbeat_period=2_000_000_000)
        token = self.main.swarm.attrs["JoinTokens"]["Worker"]
        with self.node2() as node2:
            node2.swarm.join(remote_addrs=[f"{ROOT_ADDR}:2377"], join_token=token,
                             advertise_addr=NODE2_ADDR, listen_addr=f"{NODE2_ADDR}:2377")
            self.worker_id = node2.info()["Swarm"]["NodeID"]
        self.manager_id = self.main.info()["Swarm"]["NodeID"]
        # docker-py cannot make config-only networks; the CLI can.
        for host, addr, subnet in ((NODE2_HOST, NODE2_ADDR, "10.221.2.0/24"),
                                   (MAIN_HOST, "127.0.0.1", "10.221.1.0/24")):
            sh("docker", "-H", host, "network", "create", "--config-only", "--subnet", subnet,
               "-o", f"com.docker.network.bridge.host_binding_ipv4={addr}",
               "-o", "com.docker.network.bridge.name=dyt-pub0", PUBLISH_CFG)
        sh("docker", "-H", MAIN_HOST, "network", "create", "-d", "bridge", "--scope", "swarm",
           "--config-from", PUBLISH_CFG, PUBLISH_NET)
        for node_id, addr in ((self.manager_id, "127.0.0.1"), (self.worker_id, NODE2_ADDR)):
            self.label(node_id, {"dockyard.publish-addr": addr})
        wait_for("both nodes ready", lambda: all(
            n.attrs["Status"]["State"] == "ready" for n in self.main.nodes.list()) and len(self.main.nodes.list()) == 2,
            30)

    def label(self, node_id: str, labels: dict[str, str], availability: str | None = None) -> None:
        node = self.main.nodes.get(node_id)
        spec = dict(node.attrs["Spec"])
        spec["Labels"] = {**(spec.get("Labels") or {}), **labels}
        if availability:
            spec["Availability"] = availability
        node.update(spec)

    def _step(self, what: str, fn) -> None:
        try:
            fn()
        except Exception as exc:  # teardown goes on; the failures are reported at the end
            self.log.append(f"{what}: {exc}")

    def down(self) -> None:
        def remove_services() -> None:
            for service in self.main.services.list():
                service.remove()
            wait_for("task containers gone", lambda: not self.main.containers.list(
                all=True, filters={"label": "com.docker.swarm.service.id"}), 30)
            for config in self.main.configs.list():
                config.remove()
            for secret in self.main.secrets.list():
                secret.remove()

        if self.main.info()["Swarm"]["LocalNodeState"] == "active":
            self._step("remove services", remove_services)

        def leave_node2() -> None:
            with self.node2() as node2:
                node2.swarm.leave(force=True)
                # As on the manager below: the swarm network lets go of it a moment after leaving.
                for net in node2.networks.list(names=[PUBLISH_CFG]):
                    wait_for(f"{net.name} free on node2", lambda n=net: self._try_remove(n), 20, 0.5)

        if self.dockerd is not None:
            self._step("node2 leaves", leave_node2)
        self._step("stop node2 dockerd", self.stop_node2)
        self._step("remove publish network", lambda: [n.remove() for n in self.main.networks.list(
            names=[PUBLISH_NET]) if n.name == PUBLISH_NET])
        self._step("manager leaves", lambda: self.main.swarm.leave(force=True))
        # Leaving the swarm frees the swarm network that uses it a moment later: retry for a while.
        self._step("remove config-only network", lambda: [
            wait_for(f"{n.name} free", lambda n=n: self._try_remove(n), 20, 0.5)
            for n in self.main.networks.list(names=[PUBLISH_CFG]) if n.name == PUBLISH_CFG])

        def drop_new_networks() -> None:  # docker_gwbridge, made by swarm mode
            for net in self.main.networks.list():
                if net.name not in self.networks_before and net.name in ("docker_gwbridge", "ingress"):
                    wait_for(f"{net.name} free", lambda n=net: self._try_remove(n), 20, 0.5)

        self._step("remove docker_gwbridge", drop_new_networks)
        if self.forwarder is not None:
            self._step("stop forwarder", lambda: (self.forwarder.terminate(), self.forwarder.wait(5)))
        self._step("remove veth", lambda: sh("ip", "link", "del", ROOT_IF, check=False))
        self._step("remove netns", lambda: sh("ip", "netns", "del", NETNS, check=False))
        self._step("remove node2 data", lambda: shutil.rmtree(BASE, ignore_errors=True))
        self._step("remove node2 run dir", lambda: shutil.rmtree(RUN, ignore_errors=True))

    @staticmethod
    def _try_remove(net) -> bool:
        try:
            net.remove()
            return True
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError:
            return False


def leftovers(main: docker.DockerClient) -> list[str]:
    """What the pool must not leave behind on the main daemon and the host."""
    problems = []
    if sh("ip", "link", "show", "docker0", check=False).returncode != 0:
        problems.append("docker0 is gone")
    if main.info()["Swarm"]["LocalNodeState"] != "inactive":
        problems.append("the main dockerd is still in a swarm")
    if NETNS in sh("ip", "netns", "list").stdout:
        problems.append(f"netns {NETNS} still exists")
    if sh("ip", "link", "show", ROOT_IF, check=False).returncode == 0:
        problems.append(f"{ROOT_IF} still exists")
    return problems

"""A network of its own for an endpoint test: it reaches its target and nothing else.

A test container from any branch used to run with `network_mode=host`, so it could reach etcd, the
API server, the agent and the registries on 127.0.0.1. Now the test joins the network namespace of
a holder container started with no network at all (only loopback), and Dockyard relays one port of
that loopback to the target's 127.0.0.1 port on the host: TARGET_URL keeps its form
(http://127.0.0.1:PORT) and is the only address that answers.

The relay's listening socket is made inside the holder's namespace (setns in a thread of its own,
which then returns to ours), so it needs root and an engine on this host (unix socket or
127.0.0.1), where the holder's PID is ours to see.
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import docker.errors

from dockyard.engine.api import DockerError
from dockyard.engine.failures import HostHandle, engine_error
from dockyard.errors import DeployError

CLONE_NEWNET = 0x40000000
HOLDER_IMAGE = os.environ.get("DOCKYARD_SANDBOX_IMAGE", "dockyard/busybox:1.35")
HOLDER_LIFETIME = "3600"  # seconds: a holder left behind by a killed process ends by itself


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def listen_in_netns(netns: str, port: int, host: str = "127.0.0.1") -> socket.socket:
    """A socket listening on host:port inside the network namespace at `netns` (/proc/PID/ns/net,
    or /var/run/netns/NAME)."""
    result: list[socket.socket | BaseException] = []

    def work() -> None:
        try:
            own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
            try:
                target = os.open(netns, os.O_RDONLY)
                try:
                    _setns(target)
                    try:
                        result.append(socket.create_server((host, port), backlog=64))
                    finally:
                        _setns(own)  # this thread ends anyway; return it before it does
                finally:
                    os.close(target)
            finally:
                os.close(own)
        except BaseException as exc:  # handed to the caller's thread
            result.append(exc)

    thread = threading.Thread(target=work, name="sandbox-listen")
    thread.start()
    thread.join()
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


def pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


@dataclass
class Relay:
    """Accepts on a listener (made in another namespace) and relays each connection to `target`
    in this one. Also the test pool's registry forwarder (tests/integration/swarm/forward.py)."""

    listener: socket.socket
    target: tuple[str, int]

    def serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed: the test is over
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()


def ensure_holder_image(engine: HostHandle, local_engine: Callable[[], HostHandle]) -> None:
    """A second engine on this host (the TLS one) has an image store of its own: give it the holder
    image from the local engine (docker save | docker load), as images move without a registry."""
    try:
        engine.client.images.get(HOLDER_IMAGE)
        return
    except docker.errors.ImageNotFound:
        pass
    if engine.name == "local":
        raise DeployError(f"endpoint tests need the image {HOLDER_IMAGE} on engine {engine.name!r} to hold their "
                          "network", hint="scripts/setup.sh builds it; or set DOCKYARD_SANDBOX_IMAGE to an image "
                          "with a `sleep`")
    local = local_engine()
    try:
        image = local.client.images.get(HOLDER_IMAGE)
        engine.client.images.load(b"".join(image.save(named=True)))
    except docker.errors.ImageNotFound as exc:
        raise DeployError(f"endpoint tests need the image {HOLDER_IMAGE} on engine {engine.name!r} or the local "
                          "one", hint="scripts/setup.sh builds it") from exc
    finally:
        local.close()


@contextmanager
def sandbox(engine: HostHandle, target_port: int, labels: dict[str, str], local_engine: Callable[[], HostHandle]
            ) -> Iterator[str]:
    """A holder container with no network but loopback, whose 127.0.0.1:target_port is relayed to
    the host's 127.0.0.1:target_port. Yields the network mode for the test: `container:<holder>`."""
    if not engine.is_local_host:
        raise DeployError(f"endpoint tests on engine {engine.name!r} ({engine.config.host}) cannot be sandboxed: "
                          "the relay into the test's network needs an engine on this host",
                          hint="run endpoint tests on an engine of this host, or make the test an image test")
    ensure_holder_image(engine, local_engine)
    try:
        holder = engine.client.containers.run(
            HOLDER_IMAGE, ["sleep", HOLDER_LIFETIME], detach=True, network_mode="none", user="65534:65534",
            labels={**labels, "dockyard.sandbox": "1"}, security_opt=["no-new-privileges:true"], cap_drop=["ALL"],
            mem_limit="16m", pids_limit=8)
    except DockerError as exc:
        raise engine_error("starting the test's network holder", exc) from exc
    relay: Relay | None = None
    try:
        holder.reload()
        pid = int(holder.attrs["State"]["Pid"])
        try:
            relay = Relay(listen_in_netns(f"/proc/{pid}/ns/net", target_port), ("127.0.0.1", target_port))
        except OSError as exc:
            raise DeployError(f"cannot enter the endpoint test's network namespace: {exc.strerror or exc}",
                              hint="endpoint tests need Dockyard to run as root (setns)") from exc
        threading.Thread(target=relay.serve, name="sandbox-relay", daemon=True).start()
        yield f"container:{holder.id}"
    finally:
        if relay is not None:
            relay.listener.close()
        try:
            holder.remove(force=True)
        except DockerError:
            pass

"""Discovery and probes from outside: sockets listening inside a container, matched to the ports
published on the host, each probed on 127.0.0.1 (TCP connect; HTTP GET where it speaks HTTP).
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from dockyard.monitor.cgroups import read_small
from dockyard.monitor.inventory import Tracked
from dockyard.monitor.model import Listener, Probe
from dockyard.monitor.procnet import parse_listeners, unique_listeners
from dockyard.monitor.sockdiag import tcp_listeners_batch


@dataclass(frozen=True)
class Service:
    """A discovered service: a listening socket inside a container, published on the host or not."""

    container: Tracked
    listener: Listener

    @property
    def host_port(self) -> int | None:
        return self.container.ports.get((self.listener.port, self.listener.proto))


def listeners_of(pid: int, proc_root: str = "/proc", tcp: list[Listener] | None = None) -> list[Listener]:
    """Listening sockets in the pid's network namespace; `tcp` if already found through sock_diag."""
    found: list[Listener] = list(tcp or [])
    files = (("udp", "udp"), ("udp6", "udp")) if tcp is not None else (
        ("tcp", "tcp"), ("tcp6", "tcp"), ("udp", "udp"), ("udp6", "udp"))
    for name, proto in files:
        try:
            found += parse_listeners(read_small(f"{proc_root}/{pid}/net/{name}"), proto)
        except OSError:
            continue
    return unique_listeners(found)


def discover(items: list[Tracked], proc_root: str = "/proc") -> list[Service]:
    live = [i for i in items if i.running and i.pid > 0]
    tcp = tcp_listeners_batch([i.pid for i in live], proc_root) if live else {}
    services = []
    for item in live:
        services += [Service(item, lst) for lst in listeners_of(item.pid, proc_root, tcp.get(item.pid))
                     if not lst.address.startswith("127.") and lst.address != "::1"]
    return services


def parse_status_line(head: bytes) -> int | None:
    """b'HTTP/1.0 200 OK...' -> 200; None if it is not HTTP."""
    if not head.startswith(b"HTTP/"):
        return None
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def probe_tcp(port: int, timeout: float = 2.0, http: bool = True,
              host: str = "127.0.0.1") -> tuple[str, bool, float, str]:
    """(kind, ok, latency, detail): connect; then, if asked, one HTTP/1.0 GET / to see if it speaks HTTP."""
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            connected = time.monotonic() - start
            if not http:
                return "tcp", True, connected, "connected"
            try:
                sock.sendall(b"GET / HTTP/1.0\r\nHost: " + host.encode() + b"\r\nUser-Agent: dockyard-agent\r\n\r\n")
                head = sock.recv(64)
            except OSError:
                return "tcp", True, connected, "connected"
            status = parse_status_line(head)
            if status is None:
                return "tcp", True, connected, "connected"
            return "http", status < 500, time.monotonic() - start, f"HTTP {status}"
    except OSError as exc:
        return "tcp", False, time.monotonic() - start, exc.strerror or type(exc).__name__


def probe(service: Service, timeout: float = 2.0) -> Probe | None:
    host_port = service.host_port
    if host_port is None or service.listener.proto != "tcp":
        return None  # unpublished services and UDP are discovered but not probed from outside
    kind, ok, latency, detail = probe_tcp(host_port, timeout)
    return Probe(container=service.container.name, port=service.listener.port, host_port=host_port,
                 proto="tcp", kind=kind, ok=ok, latency_s=round(latency, 6), detail=detail, at=time.time())


def http_sd(services: list[Service], host: str) -> list[dict]:
    """Prometheus http_sd: one target group per published service (probe it at 127.0.0.1:HOSTPORT)."""
    groups = []
    for s in services:
        if s.host_port is None:
            continue
        c = s.container
        groups.append({"targets": [f"127.0.0.1:{s.host_port}"],
                       "labels": {"host": host, "app": c.app, "env": c.env, "service": c.service,
                                  "container": c.name, "port": str(s.listener.port), "proto": s.listener.proto}})
    return groups


def zabbix_lld(services: list[Service], host: str) -> dict:
    """Zabbix low-level discovery JSON: {"data": [{"{#MACRO}": value, ...}]}."""
    return {"data": [
        {"{#HOST}": host, "{#APP}": s.container.app, "{#ENV}": s.container.env,
         "{#SERVICE}": s.container.service, "{#CONTAINER}": s.container.name,
         "{#PORT}": s.listener.port, "{#PROTO}": s.listener.proto,
         "{#HOSTPORT}": s.host_port if s.host_port is not None else ""}
        for s in services]}

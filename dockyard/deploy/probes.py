"""Probing a replica from outside, through its published port: an HTTP GET of its health path, or a
TCP connection that stays open; and the verdict `ps` and `status` show for each replica.

Apart from health.py (a deploy's waits) so that `ps` and `status` load the probe, not the deploy's
machinery (issue 30).
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dockyard.engine.rows import Running

__all__ = ["HOLD", "HealthCheck", "ProbeClient", "judge", "judge_all", "probe_client", "probe_once", "tcp_probe"]


@dataclass(frozen=True)
class HealthCheck:
    path: str | None
    interval: float = 1.0
    timeout: float = 2.0
    start_period: float = 60.0
    inside: bool = False  # the engine runs health.command in the container: its verdict is read back
    # where a wait says what it probes, every PROGRESS_EVERY seconds (the executor sets it)
    report: Callable[[str], None] | None = field(default=None, compare=False, repr=False)


def judge(row: Running, probe: str, prober: ProbeClient, timeout: float = 1.0) -> str:
    """A replica's health as ps and status show it, by `probe` (its label, or the working tree's for
    a replica older than the label): healthy, unhealthy, starting, restarting or down."""
    if row.restarting:
        return "restarting"
    if not row.running:
        return "down"
    if probe == "command":
        return row.engine_health or "starting"
    if probe == "running" or not row.url:
        return "healthy"  # a worker: running, not restarting, is its health
    where = urlsplit(row.url)  # 127.0.0.1, or a Swarm task's node publish address
    check = HealthCheck(path=probe[5:] if probe.startswith("http:") else None, timeout=timeout)
    ok, _reason = probe_once(where.port or 80, check, prober, host=where.hostname or "127.0.0.1")
    return "healthy" if ok else "unhealthy"


def judge_all(rows: list[Running], working_tree: dict[str, str]) -> list[str]:
    """Every row judged at once (8 at a time): by its own label, else the working tree's probe."""
    with probe_client() as prober, ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda r: judge(r, r.probe or working_tree.get(r.service, "running"), prober), rows))


class ProbeClient:
    """GETs of a health path over plain HTTP, to 127.0.0.1 or a Swarm node's publish address. The
    stdlib's http.client: never a proxy from the environment, and `ps` or a rollback does not load
    requests (or httpx) for it. A connection per probe: each one sees the replica as a new client."""

    def status(self, host: str, port: int, path: str, timeout: float) -> int:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            response = conn.getresponse()
            response.read(64 * 1024)  # enough of a body to end the exchange cleanly
            return response.status
        finally:
            conn.close()

    def __enter__(self) -> ProbeClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None


def probe_client() -> ProbeClient:
    return ProbeClient()


def probe_once(host_port: int, check: HealthCheck, prober: ProbeClient,
               host: str = "127.0.0.1") -> tuple[bool, str]:
    """One probe of a published port: on 127.0.0.1, or a Swarm task's node publish address."""
    if check.path:
        try:
            status = prober.status(host, host_port, check.path, check.timeout)
        except (OSError, http.client.HTTPException) as exc:
            return False, f"GET {check.path}: {type(exc).__name__}"
        return status < 400, f"GET {check.path}: HTTP {status}"
    return tcp_probe(host, host_port, check.timeout)


HOLD = 0.3  # seconds a connection must stay open for a TCP probe to pass


def tcp_probe(host: str, port: int, timeout: float) -> tuple[bool, str]:
    """A connection that stays open (or says something) passes. A published port is answered by
    docker-proxy whether or not the container listens: when nothing does, the proxy accepts and then
    closes at once, so a bare connect proves nothing."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(min(HOLD, timeout))
            try:
                first = sock.recv(1)
            except TimeoutError:
                return True, "TCP connect ok (held open)"
            if first:
                return True, "TCP connect ok (it spoke first)"
            return False, "TCP connect: closed at once (nothing listens behind the published port)"
    except OSError as exc:
        return False, f"TCP connect: {exc.strerror or exc}"

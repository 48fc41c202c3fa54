"""Wait for a new container to be healthy, probing it from outside through its 127.0.0.1 port.

No agent or tool is needed inside the image: an HTTP GET on the health path when the spec
has one, else a TCP connect on the published port. A service without a port (a worker) is healthy
while it runs and does not restart; or, when its spec gives `health: {command: [...]}`, when the
engine's run of that command inside it (Docker's health check) says so.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dockyard.engine.containers import CommandCheck
from dockyard.engine.facts import ReplicaFacts
from dockyard.engine.interface import Engine
from dockyard.engine.rows import Running
from dockyard.errors import HealthCheckFailed
from dockyard.router.colors import Replica
from dockyard.spec.brief import probe_label

if TYPE_CHECKING:
    from dockyard.spec import AppSpec
    from dockyard.spec.model import HealthSpec


@dataclass(frozen=True)
class HealthCheck:
    path: str | None
    interval: float = 1.0
    timeout: float = 2.0
    start_period: float = 60.0
    inside: bool = False  # the engine runs health.command in the container: its verdict is read back
    # where a wait says what it probes, every PROGRESS_EVERY seconds (the executor sets it)
    report: Callable[[str], None] | None = field(default=None, compare=False, repr=False)


def health_check(spec: HealthSpec | None) -> HealthCheck:
    """A service's probe: its `health:` section, else a TCP check of its port (or "still running")."""
    if spec is None:
        return HealthCheck(path=None)
    return HealthCheck(path=spec.path, interval=spec.interval, timeout=spec.timeout, start_period=spec.start_period,
                       inside=spec.command is not None)


def health_command(spec: HealthSpec | None) -> CommandCheck | None:
    """The check the engine runs inside each replica, when the spec gives a command."""
    if spec is None or spec.command is None:
        return None
    return CommandCheck(tuple(spec.command), spec.interval, spec.timeout, spec.retries, spec.start_period)


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


def spec_probes(spec: AppSpec) -> dict[str, str]:
    return {name: probe_label(s.health, s.port) for name, s in spec.services.items()}


RUNNING_HOLD = 1.0  # seconds a replica without a port must run, without a restart, to count as healthy


def engine_verdict(replica: ReplicaFacts) -> tuple[bool | None, str]:
    """Pure: what the engine's own health check says of a container. None: not yet."""
    status = replica.health
    said = " ".join(replica.health_output.split())[:200]
    detail = (f"health command exit {replica.health_exit}" + (f": {said}" if said else "")
              if replica.health_exit is not None else "")
    if status == "healthy":
        return True, "health command: ok"
    if status == "unhealthy":
        return False, detail or "health command: unhealthy"
    return None, detail or "health command has not answered yet"


def restarted(replica: ReplicaFacts, restarts_before: int) -> str | None:
    """Pure: why a replica is restarting, or None."""
    if replica.restarting or replica.restarts > restarts_before:
        times = replica.restarts - restarts_before
        return f"restarting (restarted {times} time(s), last exit code {replica.last_exit})"
    return None


@dataclass(frozen=True)
class HealthResult:
    healthy: bool
    reason: str
    seconds: float


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


PROGRESS_EVERY = 5.0  # seconds between two lines of a wait that goes on


DOCKER_DNS = "127.0.0.11"  # the engine's embedded DNS server, in every container of a user network


def listening(container: ReplicaFacts) -> list[int] | None:
    """The TCP ports the container's processes listen on, read from its network namespace through
    /proc (None where that cannot be read: an engine on another host)."""
    pid = container.pid
    if not pid:
        return None
    from dockyard.monitor.procnet import parse_listeners  # said only of a wait that goes on

    proc = Path("/proc") / str(pid)
    try:
        if (container.id or "?") not in (proc / "cgroup").read_text():  # not this host's process
            return None
        found = parse_listeners((proc / "net" / "tcp").read_text(), "tcp")
        found += parse_listeners((proc / "net" / "tcp6").read_text(), "tcp")
    except OSError:
        return None
    return sorted({item.port for item in found if item.address != DOCKER_DNS})


def what_listens(container: ReplicaFacts, port: int | None) -> str:
    """'; it listens on 8081, not 8080': said when a probe of a port goes unanswered."""
    ports = listening(container)
    if ports is None or port is None:
        return ""
    if not ports:
        return "; nothing in it listens on a TCP port yet"
    return f"; it listens on {', '.join(map(str, ports))}" + ("" if port in ports else f", not {port}")


def probing(container: ReplicaFacts, port: int | None, check: HealthCheck) -> str:
    """What a wait probes, in a user's words."""
    if check.inside:
        return "its health command"
    if port is None:
        return "it to keep running"
    host_port = container.loopback_port(port)
    where = f"127.0.0.1:{host_port} (container port {port})" if host_port else f"container port {port}"
    return f"GET {check.path} on {where}" if check.path else f"a TCP connection to {where}"


FAST_POLL = 0.05  # seconds between two probes of a new replica at first, as a script would poll
FAST_FOR = 2.0  # seconds of such probes, before they back off to the check's interval


def poll_delay(elapsed: float, delay: float, interval: float) -> float:
    """Pure: the pause before the next probe of a replica that has waited `elapsed` seconds, after a
    pause of `delay`. Every 50 ms at first: most services answer within a second or two, and a
    deploy waits for its slowest replica, so a doubling pause (50, 100, 200 ms...) would find one
    that answers at 0.4 s only at 0.75 s. Past FAST_FOR, doubling up to the interval."""
    if elapsed < FAST_FOR:
        return min(FAST_POLL, interval)
    return min(max(delay, FAST_POLL) * 2, interval)


def wait_healthy(engine: Engine, replica: ReplicaFacts, port: int | None, check: HealthCheck) -> HealthResult:
    """Poll until healthy, the container exits, or start_period passes; every few seconds a line
    says what is probed, the last answer and what the process listens on."""
    start = time.monotonic()
    deadline = start + check.start_period
    reason = "not probed yet"
    delay = min(FAST_POLL, check.interval)
    restarts = replica.restarts
    said = start
    with probe_client() as prober:
        while True:
            found = engine.inspect_replica(replica.id)
            if found is None:
                return HealthResult(False, "container was removed", time.monotonic() - start)
            container = found
            again = restarted(container, restarts)
            if again:
                return HealthResult(False, again, time.monotonic() - start)
            if not container.running:
                return HealthResult(False, f"container exited (code {container.last_exit})",
                                    time.monotonic() - start)
            if check.inside:
                verdict, reason = engine_verdict(container)
                if verdict is not None:
                    return HealthResult(verdict, reason, time.monotonic() - start)
            elif port is None:
                reason = "running, not restarting"
                if time.monotonic() - start >= min(RUNNING_HOLD, check.start_period):
                    return HealthResult(True, reason, time.monotonic() - start)
            else:
                host_port = container.loopback_port(port)
                if host_port is None:
                    reason = f"port {port} is not published"
                else:
                    ok, reason = probe_once(host_port, check, prober)
                    if ok:
                        return HealthResult(True, reason, time.monotonic() - start)
            now = time.monotonic()
            if now >= deadline:
                return HealthResult(False, f"not healthy after {check.start_period:g}s: {reason}"
                                    + what_listens(container, port), now - start)
            if check.report is not None and now - said >= PROGRESS_EVERY:
                said = now
                check.report(f"{container.name}: {now - start:.0f}s of {check.start_period:g}s, waiting for "
                             f"{probing(container, port, check)}: {reason}{what_listens(container, port)}")
            time.sleep(delay)
            delay = poll_delay(time.monotonic() - start, delay, check.interval)


# Waits for one new container to answer (wait_healthy, or a test's own).
Probe = Callable[[Engine, ReplicaFacts, int | None, HealthCheck], HealthResult]
# Does a Swarm task answer on its node: (publish address, host port, how) -> one probe's verdict.
TaskProbe = Callable[[str, int, HealthCheck], bool]
# One probe of each replica that already runs; raises HealthCheckFailed (check_health, or a test's own).
Check = Callable[[list[Replica], dict[str, HealthCheck]], None]


def probe_task(host: str, host_port: int, check: HealthCheck) -> bool:
    with probe_client() as prober:
        return probe_once(host_port, check, prober, host=host)[0]


def spec_health(spec: AppSpec) -> dict[str, HealthCheck]:
    return {name: health_check(s.health) for name, s in spec.services.items()}


def check_health(replicas: list[Replica], health: dict[str, HealthCheck]) -> None:
    """One probe of every replica: from outside through its published port; a replica without a port
    by its state (running, and the engine's verdict when its spec gives a health command)."""
    with probe_client() as prober:
        for replica in replicas:
            if not replica.running:
                raise HealthCheckFailed(f"{replica.name} is not running")
            check = health.get(replica.service, HealthCheck(path=None))
            # the engine's verdict where the fleet reports one; a Swarm task runs only once it passed
            if check.inside and replica.health is not None:
                if replica.health != "healthy":
                    raise HealthCheckFailed(f"{replica.name} is not healthy: its health command says "
                                            f"{replica.health}")
                continue
            if replica.port is None:
                continue  # a worker: running is its health
            ok, reason = probe_once(replica.port, check, prober, host=replica.host)
            if not ok:
                raise HealthCheckFailed(f"{replica.name} is not healthy: {reason}")

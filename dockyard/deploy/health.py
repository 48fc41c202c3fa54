"""Wait for a new container to be healthy, probing it from outside through its 127.0.0.1 port.

No agent or tool is needed inside the image: an HTTP GET on the health path when the spec
has one, else a TCP connect on the published port. A service without a port (a worker) is healthy
while it runs and does not restart; or, when its spec gives `health: {command: [...]}`, when the
engine's run of that command inside it (Docker's health check) says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.deploy.probes import HealthCheck, probe_client, probe_once
from dockyard.engine.containers import CommandCheck
from dockyard.engine.facts import ReplicaFacts
from dockyard.engine.interface import Engine
from dockyard.errors import HealthCheckFailed
from dockyard.router.colors import Replica
from dockyard.spec.brief import probe_label

if TYPE_CHECKING:
    from dockyard.spec import AppSpec
    from dockyard.spec.model import HealthSpec


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

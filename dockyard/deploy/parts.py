"""The real systems a deploy drives, passed in as one value: the engines, the health probes, the
balancers and the edge. Unit tests hand the orchestration fakes of each (tests/fakes/), the way httpx takes a
MockTransport; everything else uses the defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dockyard.deploy.edge import EdgeDoor, host_edge
from dockyard.deploy.health import Check, Probe, TaskProbe, check_health, probe_task, wait_healthy
from dockyard.deploy.one_off import LOG_GRACE
from dockyard.engine.client import connect
from dockyard.engine.interface import Engine
from dockyard.router.switch import Balancer, Report, nginx_router


def connect_engine(name: str) -> Engine:
    return connect(name)


@dataclass(frozen=True)
class Parts:
    engines: Callable[[str], Engine] = connect_engine  # site engine name -> a connection
    probe: Probe = wait_healthy  # waits for a new replica to answer
    check: Check = check_health  # one probe of each replica of a colour that already runs
    task_probe: TaskProbe = probe_task  # one probe of a Swarm task at its node
    balancers: Callable[[str, str, Report], Balancer] = nginx_router  # (app, env, report) -> its balancer
    edge: Callable[[Report], EdgeDoor] = host_edge  # this host's edge
    log_grace: float = LOG_GRACE  # seconds an ended one-off is kept for the host's log forwarder

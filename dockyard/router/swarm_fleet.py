"""The colours of a blue-green environment on Swarm: one Swarm service per service and colour
(`<app>_<env>_<service>_<color>`), its tasks the colour's replicas.

The balancer routes to each task's published host port at its node's publish address, so a colour
spread over several nodes is one upstream. Swarm, not Dockyard, decides which task of a service
stops when it shrinks, so a task cannot be drained first: a colour is only ever removed whole.
A standby colour's worker services (no port) are parked by scaling them to 0, their count kept in a
label, and a rollback scales them back and waits until their tasks run (after their health command).
"""

from __future__ import annotations

import time

from dockyard.engine import labels as L
from dockyard.engine.facts import ReplicaFacts
from dockyard.engine.interface import Engine
from dockyard.engine.swarm_facts import NodeFact, ServiceFact, TaskFact
from dockyard.errors import DeployError, HealthCheckFailed
from dockyard.plan.bluegreen import COLORS
from dockyard.router.colors import Replica


def task_replicas(found: list[ServiceFact], tasks: list[TaskFact], nodes: dict[str, NodeFact]) -> list[Replica]:
    """Pure: the tasks meant to run of the coloured services, as the balancer's replicas, and one
    stopped replica per slot of a parked worker service."""
    by_id = {s.id: s for s in found if s.color in COLORS}
    out = [Replica(id=f"{s.id}.{slot}", name=f"{s.name}.{slot}", service=s.service, replica=slot, color=s.color,
                   release=s.release, config_hash=s.config_hash, running=False, port=None, worker=True)
           for s in by_id.values() if s.parked and not s.replicas and s.color is not None
           for slot in range(1, s.parked + 1)]
    for task in tasks:
        service = by_id.get(task.service_id)
        if service is None or service.color is None or task.desired != "running":
            continue
        node = nodes.get(task.node_id)
        port = task.published.get(service.port) if service.port else None
        out.append(Replica(id=task.id, name=f"{service.name}.{task.slot}", service=service.service,
                           replica=task.slot, color=service.color, release=task.release,
                           config_hash=task.config_hash, running=task.state == "running",
                           port=port if node else None, host=node.publish_addr if node else "127.0.0.1",
                           worker=service.port is None, container=task.container_id))
    return sorted(out, key=lambda r: (r.color, r.service, r.replica))


class SwarmFleet:
    def __init__(self, engine: Engine, app: str, env: str) -> None:
        self.engine, self.app, self.env = engine, app, env

    def services(self, color: str | None = None) -> list[ServiceFact]:
        found = [s for s in self.engine.services(self.app, self.env) if s.color in COLORS]
        return [s for s in found if color is None or s.color == color]

    def replicas(self) -> list[Replica]:
        found = self.services()
        return task_replicas(found, self.engine.tasks([s.id for s in found]), self.engine.nodes())

    def remove(self, doomed: list[Replica], grace: dict[str, float]) -> None:
        colors = {r.color for r in doomed}
        everything = self.replicas()
        if any({r.id for r in everything if r.color == c} - {r.id for r in doomed} for c in colors):
            raise DeployError(f"{self.app}/{self.env}: single tasks of a blue-green Swarm service cannot be "
                              "drained and removed (Swarm picks which task stops)",
                              hint="a blue-green Swarm environment changes its replica count with a deploy")
        for color in colors:
            self.remove_color(color, grace)

    def park(self, workers: list[Replica], grace: dict[str, float]) -> None:
        """Scale the workers' services to 0, keeping their count in a label (Swarm stops each task
        with its service's stop grace period)."""
        for service in self._services_of(workers):
            self._scale(service, 0, {L.PARKED: str(service.replicas)})

    def unpark(self, workers: list[Replica], timeout: float = 120.0) -> list[ReplicaFacts]:
        """Scale parked worker services back to their count and wait until every task runs (Swarm
        reports a task with a health command running once the command passes). No container to probe."""
        services = [s for s in self._services_of(workers) if s.parked]
        for service in services:
            self._scale(service, service.parked, {L.PARKED: None})
        deadline = time.monotonic() + timeout
        for service in services:
            self._wait_running(service, deadline)
        return []

    def _services_of(self, workers: list[Replica]) -> list[ServiceFact]:
        wanted = {(r.color, r.service) for r in workers}
        return [s for s in self.services() if (s.color, s.service) in wanted]

    def _scale(self, service: ServiceFact, replicas: int, labels: dict[str, str | None]) -> None:
        self.engine.scale_service(service.id, replicas, labels)

    def _wait_running(self, service: ServiceFact, deadline: float) -> None:
        while True:
            current = [t for t in self.engine.tasks([service.id]) if t.desired == "running"]
            if sum(t.state == "running" for t in current) >= service.parked:
                return
            if time.monotonic() > deadline:
                failed = [t.error for t in self.engine.tasks([service.id]) if t.error]
                raise HealthCheckFailed(f"{service.name}: {sum(t.state == 'running' for t in current)} of "
                                        f"{service.parked} task(s) running after it was scaled back"
                                        + (f" ({failed[-1]})" if failed else ""))
            time.sleep(0.3)

    def remove_color(self, color: str, grace: dict[str, float]) -> int:
        """Remove the colour's services; Swarm stops their tasks with each one's stop grace period."""
        services = self.services(color)
        tasks = self.engine.tasks([s.id for s in services])
        count = sum(t.desired == "running" for t in tasks)
        for service in services:
            self.engine.remove_service(service.id, service.name)
        return count

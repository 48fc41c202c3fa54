"""The colours of a blue-green environment on Swarm: one Swarm service per service and colour
(`<app>-<env>-<service>-<color>`), its tasks the colour's replicas.

The balancer routes to each task's published host port at its node's publish address, so a colour
spread over several nodes is one upstream. Swarm, not Dockyard, decides which task of a service
stops when it shrinks, so a task cannot be drained first: a colour is only ever removed whole.
"""

from __future__ import annotations

from dockyard.engine import swarm_observe as observe
from dockyard.engine.api import Container
from dockyard.engine.client import Engine
from dockyard.engine.swarm_facts import NodeFact, ServiceFact, TaskFact
from dockyard.errors import DeployError
from dockyard.plan.bluegreen import COLORS
from dockyard.router.colors import Replica


def task_replicas(found: list[ServiceFact], tasks: list[TaskFact], nodes: dict[str, NodeFact]) -> list[Replica]:
    """Pure: the tasks meant to run of the coloured services, as the balancer's replicas."""
    by_id = {s.id: s for s in found if s.color in COLORS}
    out = []
    for task in tasks:
        service = by_id.get(task.service_id)
        if service is None or service.color is None or task.desired != "running":
            continue
        node = nodes.get(task.node_id)
        port = task.published.get(service.port) if service.port else None
        out.append(Replica(id=task.id, name=f"{service.name}.{task.slot}", service=service.service,
                           replica=task.slot, color=service.color, release=task.release,
                           config_hash=task.config_hash, running=task.state == "running",
                           port=port if node else None, host=node.publish_addr if node else "127.0.0.1"))
    return sorted(out, key=lambda r: (r.color, r.service, r.replica))


class SwarmFleet:
    def __init__(self, engine: Engine, app: str, env: str) -> None:
        self.engine, self.app, self.env = engine, app, env

    def services(self, color: str | None = None) -> list[ServiceFact]:
        found = [s for s in observe.services(self.engine, self.app, self.env) if s.color in COLORS]
        return [s for s in found if color is None or s.color == color]

    def replicas(self) -> list[Replica]:
        found = self.services()
        return task_replicas(found, observe.tasks(self.engine, [s.id for s in found]), observe.nodes(self.engine))

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
        """A Swarm colour's tasks are only ever listed running (a worker service is never parked)."""

    def unpark(self, workers: list[Replica]) -> list[Container]:
        return []

    def remove_color(self, color: str, grace: dict[str, float]) -> int:
        """Remove the colour's services; Swarm stops their tasks with each one's stop grace period."""
        services = self.services(color)
        tasks = observe.tasks(self.engine, [s.id for s in services])
        count = sum(t.desired == "running" for t in tasks)
        for service in services:
            observe.remove_service(self.engine, service)
        return count

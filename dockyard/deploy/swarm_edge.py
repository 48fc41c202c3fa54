"""A Swarm environment's rolling services at the host's edge: each answering task's published port.

Swarm replaces the tasks itself (start-first, one at a time), so the edge follows the rollout
while Dockyard waits for it (SwarmExecutor's `on_progress`): a task of the release being rolled out
joins once it answered Dockyard's probe; a task of the release before it stays while Swarm still
wants it running. A task Swarm stops before the edge has dropped it refuses connections, and the
edge sends the request to the next server (`retry-on conn-failure`): with two replicas or more,
nothing fails. With one, the moment between Swarm stopping the old task and the edge learning
the new one is not covered: Swarm stops the old task as soon as the new one runs.
"""

from __future__ import annotations

from dockyard.deploy.edge import publish_edge
from dockyard.deploy.outcome import PlacingContext
from dockyard.deploy.swarm_executor import Rollout
from dockyard.engine.interface import Engine
from dockyard.engine.swarm_facts import NodeFact, TaskFact, task_url
from dockyard.engine.swarm_spec import body_config_hash
from dockyard.router.colors import routed_service


def edge_servers(tasks: list[TaskFact], nodes: dict[str, NodeFact], port: int | None, rolling_out: str | None,
                 answering: frozenset[str]) -> tuple[str, ...]:
    """host:port of the tasks the edge may send requests to (pure): running and wanted running, and
    either answering (a task of the release `rolling_out`, with that config hash) or of an earlier one."""
    found = set()
    for task in tasks:
        if task.desired != "running" or task.state != "running":
            continue
        if rolling_out is not None and task.config_hash == rolling_out and task.id not in answering:
            continue
        url = task_url(task, port, nodes)
        if url:
            found.add(url.removeprefix("http://"))
    return tuple(sorted(found))


class SwarmEdge:
    """Keeps the edge's route of one Swarm environment on its answering tasks."""

    def __init__(self, ctx: PlacingContext, engine: Engine, env: str) -> None:
        self.ctx, self.engine, self.env = ctx, engine, env
        self.service = routed_service(ctx.spec)
        self.port = ctx.spec.service(self.service).port if self.service in ctx.spec.services else None
        self.domains = bool(ctx.spec.environment(env).domains)
        self.last: tuple[str, ...] | None = None

    def progress(self, rollout: Rollout, tasks: list[TaskFact], nodes: dict[str, NodeFact],
                 answering: frozenset[str]) -> None:
        """SwarmExecutor's hook, every look at a rollout: the routed service's answering tasks."""
        if not self.domains or rollout.action.service != self.service:
            return
        want = body_config_hash(rollout.body)
        self._publish(edge_servers(tasks, nodes, self.port, want, answering))

    def settle(self) -> None:
        """After a rollout (done, or rolled back): every running task of the routed service; an
        environment without domains has its old route withdrawn, if it had one."""
        if not self.domains:
            publish_edge(self.ctx.spec, self.env, self.ctx.parts.edge(self.ctx.report), self.ctx.report, ())
            return
        found = [s for s in self.engine.services(self.ctx.spec.app, self.env)
                 if s.color is None and s.service == self.service]
        tasks = self.engine.tasks([s.id for s in found]) if found else []
        self._publish(edge_servers(tasks, self.engine.nodes(), self.port, None, frozenset()))

    def _publish(self, servers: tuple[str, ...]) -> None:
        if servers == self.last:
            return
        publish_edge(self.ctx.spec, self.env, self.ctx.parts.edge(self.ctx.report), self.ctx.report, servers)
        self.last = servers

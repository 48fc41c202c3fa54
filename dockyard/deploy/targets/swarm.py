"""Services of a Swarm: one service per service (a colour's own in blue-green); Swarm replaces the
tasks, the SwarmExecutor probes each new one at its node's publish address."""

from __future__ import annotations

from typing import ClassVar

from dockyard.deploy.health import HealthCheck, spec_health
from dockyard.deploy.outcome import PlacingContext, Prepared
from dockyard.deploy.swarm import Described, SwarmPlace, describe, remove_unused
from dockyard.deploy.swarm_edge import SwarmEdge
from dockyard.deploy.swarm_executor import Rollout, SwarmExecutor
from dockyard.deploy.targets.base import Target
from dockyard.engine import labels as L
from dockyard.engine.interface import Engine
from dockyard.engine.rows import Running
from dockyard.engine.swarm_facts import task_url
from dockyard.errors import DeployError
from dockyard.router.colors import Fleet
from dockyard.router.swarm_fleet import SwarmFleet
from dockyard.state.lock import env_lock
from dockyard.swarm.plan import SwarmAction, SwarmKind, plan_services


class SwarmTarget(Target):
    kind: ClassVar[str] = "swarm"

    def __init__(self, ctx: PlacingContext, engine: Engine, env: str) -> None:
        super().__init__(ctx, engine, env)
        self.edge = SwarmEdge(ctx, engine, env)

    def observe(self) -> list[Running]:
        return self.engine.observe(self.spec.app, self.env)

    def describe(self, prepared: Prepared, batch: int | None) -> Described:
        self.engine.require_manager()
        return describe(self.spec, self.engine, prepared, batch)

    def one_offs(self, workload: Described | None = None) -> SwarmPlace:
        return SwarmPlace(self.engine, self.spec.app, self.env, workload)

    def urls(self) -> list[str]:
        found = [s for s in self.engine.services(self.spec.app, self.env) if s.color is None]
        node_map = self.engine.nodes()
        return sorted(u for t in self.engine.tasks([s.id for s in found]) if t.desired == "running"
                      for s in found if s.id == t.service_id if (u := task_url(t, s.port, node_map)))

    def plan(self, prepared: Prepared, workload: Described) -> list[SwarmAction]:
        return plan_services(workload.wanted, [s for s in self.engine.services(self.spec.app, self.env)
                                               if s.color is None])

    def apply(self, actions: list[SwarmAction], workload: Described, batch: int | None) -> None:
        bodies = workload.bodies(self.engine, self.spec.app, self.env)
        SwarmExecutor(self.engine, self.report, self.ctx.parts.task_probe, on_progress=self.edge.progress).apply(
            actions, bodies, workload.checks, {n: s.port for n, s in self.spec.services.items()})
        remove_unused(self.engine, self.spec.app, self.env)

    def failed(self) -> None:
        self.edge.settle()  # the tasks Swarm rolled back to

    def route(self) -> None:
        self.edge.settle()

    def remove_all(self) -> list[str]:
        return [f"removed service {name}" for name in self.engine.remove_services(self.spec.app, self.env)]

    def release_data(self) -> list[str]:
        """The services' data labels on their nodes: a new deploy pins afresh."""
        return [f"unpinned its data from node {node}"
                for node in self.engine.unpin_nodes(L.data_node_label(self.spec.app, self.env, ""))]

    def fleet(self) -> Fleet:
        return SwarmFleet(self.engine, self.spec.app, self.env)

    def color_shape(self, workload: Described) -> tuple[frozenset[str], int]:
        wanted = workload.wanted
        return frozenset(w.config_hash for w in wanted), sum(w.replicas for w in wanted)

    def color_health(self, workload: Described) -> dict[str, HealthCheck]:
        return workload.checks

    def start_color(self, workload: Described, color: str, reason: str) -> None:
        bodies = workload.bodies(self.engine, self.spec.app, self.env, color)
        creates = [SwarmAction(SwarmKind.CREATE, name, s.replicas, reason) for name, s in workload.services.items()]
        ports = {name: s.port for name, s in workload.services.items()}
        executor = SwarmExecutor(self.engine, self.report, self.ctx.parts.task_probe)
        executor.apply(creates, bodies, workload.checks, ports)

    def resize(self, service: str, desired: int, reason: str) -> str:
        """Between deploys (the autoscaler, `dockyard scale`): the service's replica count, its new
        tasks waited for and put at the edge once they answer; what was done, in one line."""
        spec, env = self.spec, self.env
        switching = spec.environment(env).switching
        if switching.colors or switching.canary:
            raise DeployError(f"{spec.app}/{env}: a {switching.name} Swarm environment cannot be scaled between "
                              "deploys: Swarm picks which task stops, so none can be drained from the balancer first",
                              hint="change replicas in dockyard.yml and deploy: the new colour gets the new count")
        found = next((s for s in self.engine.services(spec.app, env) if s.service == service and s.color is None),
                     None)
        if found is None:
            raise DeployError(f"{spec.app}/{env}: no Swarm service for {service}", hint=f"dockyard deploy {env}")
        body = self.engine.scale_service(found.id, desired)
        rollout = Rollout(SwarmAction(SwarmKind.SCALE, service, desired, reason, found), found.id, body,
                          spec_health(spec)[service], spec.service(service).port)
        result = SwarmExecutor(self.engine, self.report, self.ctx.parts.task_probe,
                               on_progress=self.edge.progress).wait(rollout)
        self.edge.settle()
        if not result.ok:
            raise DeployError(f"{found.name}: scaling to {desired} did not complete: {result.reason}")
        return f"service {found.name}: {found.replicas} -> {desired} replicas, {result.reason} in {result.seconds:.1f}s"

    def colors_settled(self) -> None:
        with env_lock(self.spec.app, self.env):
            remove_unused(self.engine, self.spec.app, self.env)

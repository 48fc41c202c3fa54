"""Blue/green on Swarm: the same plan and the same balancers, with a Swarm service per service and
colour. Starting a colour creates its services and waits until every task runs and answers at its
node's publish address (the Swarm executor); retiring one removes them after nginx drained it."""

from __future__ import annotations

from dockyard.deploy.bluegreen import BlueGreen
from dockyard.deploy.health import HealthCheck
from dockyard.deploy.swarm import Described
from dockyard.deploy.swarm_executor import SwarmExecutor
from dockyard.swarm.plan import SwarmAction, SwarmKind


class SwarmBlueGreen(BlueGreen):
    @property
    def described(self) -> Described:
        return self.release.workload

    def shape(self) -> tuple[frozenset[str], int]:
        wanted = self.described.wanted
        return frozenset(w.config_hash for w in wanted), sum(w.replicas for w in wanted)

    def health(self) -> dict[str, HealthCheck]:
        return self.described.checks

    def start(self, color: str, reason: str) -> None:
        described = self.described
        bodies = described.bodies(self.engine, self.spec.app, self.env, color)
        creates = [SwarmAction(SwarmKind.CREATE, name, s.replicas, reason) for name, s in described.services.items()]
        ports = {name: s.port for name, s in described.services.items()}
        SwarmExecutor(self.engine, self.report).apply(creates, bodies, described.checks, ports)

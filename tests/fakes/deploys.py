"""A Deployer on the fake engine: the real preparation path (config store, state database, release
id, workload) with the engine and the balancer faked, for the orchestration's unit tests."""
from __future__ import annotations

from pathlib import Path

from dockyard.config.service import open_config_service
from dockyard.deploy.bluegreen import BlueGreen, Release
from dockyard.deploy.deployer import Deployer
from dockyard.deploy.health import HealthCheck, HealthResult
from dockyard.deploy.parts import Parts
from dockyard.deploy.targets.containers import container_workload
from dockyard.engine.facts import ReplicaFacts
from dockyard.engine.interface import Engine
from dockyard.errors import HealthCheckFailed
from dockyard.router.colors import Replica
from dockyard.spec import AppSpec, parse_spec
from dockyard.state.db import StateDB
from tests.fakes.engine import FakeEdge, FakeEngine, FakeRouter

SPEC = """\
app: shop
services:
  web:
    command: [httpd, -f, -p, "8080"]
    port: 8080
    health: {path: /health}
    replicas: 2
environments:
  testing: {strategy: rolling}
  production: {strategy: blue-green, router: {live: 18000, preview: 18001}}
"""
IMAGES = {"r1": "shop@sha256:" + "1" * 64, "r2": "shop@sha256:" + "2" * 64}


class Site:
    """One app on a fake engine, with a real (temporary) config store and state database."""

    def __init__(self, home: Path, spec_text: str = SPEC, swarm: bool = False) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.spec: AppSpec = parse_spec(spec_text, base_dir=home)
        self.engine = FakeEngine(swarm=swarm)
        for name, ref in IMAGES.items():
            self.engine.add_image(ref, f"sha256:{name}")
        self.router = FakeRouter(self.engine)
        self.edge = FakeEdge(self.engine)
        self.log: list[str] = []
        self.db = StateDB(home / "state.db")
        self.unhealthy: set[str] = set()  # container names whose health probe fails
        self.failing_check: set[str] = set()  # colours whose check after start fails
        self.silent_tasks: set[int] = set()  # host ports of Swarm tasks that do not answer
        parts = Parts(engines=lambda _name: self.engine, probe=self.probe, check=self.check,
                      balancers=lambda _app, _env, _report: self.router, edge=lambda _report: self.edge,
                      task_probe=lambda _host, port, _check: port not in self.silent_tasks, log_grace=0.0)
        self.deployer = Deployer(self.spec, open_config_service(), self.db, self.log.append, parts=parts)

    def probe(self, engine: Engine, container: ReplicaFacts, port: int | None, check: HealthCheck) -> HealthResult:
        ok = container.name not in self.unhealthy and container.labels.get("dockyard.release") not in \
            self.engine.fail_releases  # a release marked failing: its containers never answer
        return HealthResult(ok, "GET /health: HTTP 200" if ok else "GET /health: HTTP 500", 0.01)

    def check(self, replicas: list[Replica], health: dict[str, HealthCheck]) -> None:
        for replica in replicas:
            if replica.color in self.failing_check or not replica.running:
                raise HealthCheckFailed(f"{replica.name} is not healthy: GET /health: HTTP 503")

    def release(self, env: str, image: str) -> Release:
        resolved, files = self.deployer.resolve(env, None)
        prepared = self.deployer.identify(self.engine, env, image, resolved, files)
        return Release.of(prepared, container_workload(self.spec, prepared, local_engine=True))

    def bluegreen(self, image: str, env: str = "production") -> BlueGreen:
        return BlueGreen(self.deployer, self.deployer.placement(self.engine, env), self.release(env, image))

    @property
    def actions(self) -> list[str]:
        return self.engine.actions

    def running(self) -> dict[str, str]:
        """name -> release label of every replica that runs: containers, or Swarm tasks."""
        if self.engine.swarm:
            return {r.name: r.release for r in self.engine.observe(self.spec.app) if r.running}
        return {c.name: c.labels.get("dockyard.release", "") for c in self.engine.containers.values()
                if c.status == "running"}


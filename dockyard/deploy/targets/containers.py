"""Containers on one engine: a container per replica, started by the Executor, probed on 127.0.0.1."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar

from dockyard.config.render import split_secret_files
from dockyard.deploy.bluegreen import ColorExecutor, colored
from dockyard.deploy.edge import publish_edge, replica_servers
from dockyard.deploy.executor import Executor, Workload
from dockyard.deploy.health import HealthCheck, health_check, health_command
from dockyard.deploy.one_off import ContainerPlace
from dockyard.deploy.outcome import Prepared, Report
from dockyard.deploy.refs import resolve_env_refs
from dockyard.deploy.resume import restore_live_release
from dockyard.deploy.targets.base import Target
from dockyard.engine.containers import ReplicaSpec, choose_user
from dockyard.engine.rows import Running
from dockyard.errors import DeployError
from dockyard.plan.deploy import Action, Desired, Kind, plan_deploy
from dockyard.plan.release import replica_config_hash
from dockyard.router.colors import ContainerFleet, Fleet, routed_service
from dockyard.spec import AppSpec
from dockyard.spec.brief import probe_label


def router_ports(spec: AppSpec) -> frozenset[int]:
    """The live and preview ports of every blue-green environment of the app: a replica picked
    before that balancer first listens must not take them."""
    return frozenset(port for e in spec.environments.values() if e.router for port in (e.router.live, e.router.preview))


def container_workload(spec: AppSpec, prepared: Prepared, local_engine: bool) -> Workload:
    """Everything needed to start any replica of this release (also the autoscaler's launch template)."""
    env, image, release = prepared.env, prepared.image, prepared.release_id
    resolved, files, commit = prepared.resolved, prepared.files, prepared.commit
    secrets = resolved.secret_values()
    files, secret_bearing = split_secret_files(files, secrets)
    if files and any(s.read_only for s in spec.services.values()):
        # nothing can be copied into a read-only root: every file is mounted like a secret-bearing one
        files, secret_bearing = {}, {**files, **secret_bearing}
    if secret_bearing and not local_engine:
        raise DeployError(f"{spec.app}/{env}: config files {', '.join(sorted(secret_bearing))} hold secrets, and "
                          f"engine {spec.environment(env).engine!r} is remote: they would be written into "
                          "the container", hint="render the file without the secret and read /run/secrets/KEY")
    as_files = spec.config.secrets == "file" and bool(secrets)
    if as_files and not local_engine:
        raise DeployError(
            f"{spec.app}/{env}: secrets as files need an engine on this host; "
            f"engine {spec.environment(env).engine!r} is remote",
            hint="set config.secrets: env in dockyard.yml, or use a swarm engine")
    base_env = resolved.plain_values() if not secrets else {
        k: v for k, v in resolved.plain_values().items() if k not in secrets}
    if not as_files:
        base_env.update(secrets)
    image_user = prepared.image_facts.user or None
    replicas: dict[tuple[str, int], ReplicaSpec] = {}
    health: dict[str, HealthCheck] = {}
    for name, service in spec.services.items():
        fields = service.model_dump(mode="json", exclude={"replicas"})
        if service.read_only:
            fields["read_only"] = True
        if service.volumes:
            fields["volumes"] = [v.model_dump(mode="json") for v in service.volumes]
        if service.binds:
            fields["binds"] = [b.model_dump(mode="json") for b in service.binds]
        if service.capabilities:
            fields["capabilities"] = list(service.capabilities)
        config_hash = replica_config_hash(release, fields)
        environment = {**base_env, **resolve_env_refs(spec, env, name, service.env), "DOCKYARD_APP": spec.app,
                       "DOCKYARD_ENV": env, "DOCKYARD_SERVICE": name, "DOCKYARD_RELEASE": release}
        if commit:
            environment["DOCKYARD_COMMIT"] = commit
        resources = service.resources
        count = prepared.replicas(spec, name)
        for replica in range(1, max(count, 1) + 1):
            replicas[(name, replica)] = ReplicaSpec(
                app=spec.app, env=env, service=name, replica=replica, image=image, release_id=release,
                config_hash=config_hash, config_revision=resolved.revision, commit=commit,
                command=service.command, port=service.port,
                cpus=resources.cpus if resources else None, memory=resources.memory if resources else None,
                user=choose_user(service.user, image_user), environment=environment,
                init=service.init, stop_grace=service.stop_grace, read_only=service.read_only,
                volumes=tuple((v.name, v.path, v.read_only) for v in service.volumes),
                binds=tuple((b.host, b.path, b.read_only) for b in service.binds),
                capabilities=tuple(service.capabilities),
                health_command=health_command(service.health),
                health_probe=probe_label(service.health, service.port))
        health[name] = health_check(service.health)
    return Workload(replicas=replicas, health=health, files=files,
                    secret_files=secrets if as_files else {}, secret_bearing_files=secret_bearing,
                    reserved_ports=router_ports(spec))


class ContainerTarget(Target):
    kind: ClassVar[str] = "containers"

    def observe(self) -> list[Running]:
        return self.engine.observe(self.spec.app, self.env)

    def describe(self, prepared: Prepared, batch: int | None) -> Workload:
        return container_workload(self.spec, prepared, self.engine.is_local_host)

    def urls(self) -> list[str]:
        return [c.url for c in self.observe() if c.url]

    def one_offs(self, workload: Workload | None = None) -> ContainerPlace:
        return ContainerPlace(self.engine, self.spec.app, self.env, workload)

    def plan(self, prepared: Prepared, workload: Workload) -> list[Action]:
        desired = [Desired(name, prepared.replicas(self.spec, name), workload.replicas[(name, 1)].config_hash,
                           prepared.release_id) for name in self.spec.services]
        return plan_deploy(desired, self.observe())

    def apply(self, actions: list[Action], workload: Workload, batch: int | None) -> None:
        Executor(self.engine, workload, batch, self.report, probe=self.ctx.parts.probe,
                 before_retire=lambda leaving: self.route(leaving)).apply(actions)

    def route(self, leaving: frozenset[str] = frozenset()) -> None:
        """Point the environment's names at its running replicas (without those `leaving`); an
        environment without domains has its old route withdrawn, if it had one."""
        edge = self.ctx.parts.edge(self.report)
        if not self.spec.environment(self.env).domains:
            publish_edge(self.spec, self.env, edge, self.report, ())
            return
        publish_edge(self.spec, self.env, edge, self.report,
                     replica_servers(self.observe(), routed_service(self.spec), leaving))

    def recover(self, live_release: str | None, log: Report) -> None:
        restore_live_release(self.engine, self.spec.app, self.env, live_release, log)

    def remove_all(self) -> list[str]:
        """Every container stopped within its service's grace, in parallel, and removed."""
        rows = self.observe()
        grace = {name: service.stop_grace for name, service in self.spec.services.items()}

        def remove(row: Running) -> str | None:
            gone = self.engine.stop_and_remove(row.id, row.name, grace.get(row.service, 10.0))
            return f"removed {row.name}" if gone else None

        with ThreadPoolExecutor(max_workers=max(1, min(8, len(rows)))) as pool:
            return [line for line in pool.map(remove, rows) if line]

    def fleet(self) -> Fleet:
        return ContainerFleet(self.engine, self.spec.app, self.env)

    def color_shape(self, workload: Workload) -> tuple[frozenset[str], int]:
        return frozenset(s.config_hash for s in workload.replicas.values()), len(workload.replicas)

    def color_health(self, workload: Workload) -> dict[str, HealthCheck]:
        return workload.health

    def start_color(self, workload: Workload, color: str, reason: str) -> None:
        workload = colored(workload, color)
        creates = [Action(Kind.CREATE, s, n, reason) for s, n in sorted(workload.replicas)]
        ColorExecutor(self.engine, workload, None, self.report, probe=self.ctx.parts.probe).apply(creates)

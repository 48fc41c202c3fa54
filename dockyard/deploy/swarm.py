"""A release as Swarm services: one service per service (deploy/targets/swarm.py runs them).

Configuration files become Swarm
configs, secrets become Swarm secrets (files under /run/secrets, never env), both named by
their content, so a release always points at exactly the bytes it was deployed with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.config.render import split_secret_files
from dockyard.deploy.health import HealthCheck, health_check, health_command
from dockyard.deploy.outcome import Prepared
from dockyard.deploy.refs import resolve_env_refs
from dockyard.engine import labels as L
from dockyard.engine.containers import choose_user
from dockyard.engine.facts import ReplicaFacts, TaskRun
from dockyard.engine.interface import Engine
from dockyard.engine.swarm_facts import unused_objects
from dockyard.engine.swarm_spec import (
    FileRef,
    SwarmService,
    object_labels,
    object_name,
    one_off_body,
    service_body,
    service_name,
)
from dockyard.errors import DeployError, EngineError
from dockyard.plan.release import replica_config_hash
from dockyard.spec import AppSpec
from dockyard.swarm.plan import Want


def ensure_objects(engine: Engine, kind: str, app: str, env: str, items: dict[str, bytes]) -> tuple[FileRef, ...]:
    """Create the configs (target path -> data) or secrets (key -> data) that do not exist yet."""
    existing = engine.swarm_files(kind, app, env)
    refs = []
    for key, data in sorted(items.items()):
        name = object_name(app, env, key, data)
        if name not in existing:
            existing[name] = engine.make_swarm_file(kind, name, data, object_labels(app, env, key), key)
        refs.append(FileRef(name=name, id=existing[name], target=key))
    return tuple(refs)


def remove_unused(engine: Engine, app: str, env: str) -> None:
    """Drop configs/secrets no service (nor its previous spec, for Swarm's rollback) still uses; one
    still in use by a task that is shutting down stays, for the next deploy to remove."""
    live = engine.services(app, env)
    for kind in ("config", "secret"):
        for oid in unused_objects(engine.swarm_files(kind, app, env), live):
            try:
                engine.remove_swarm_file(kind, oid)
            except EngineError:
                pass  # the engine went away meanwhile: the next deploy removes it


def monitor_seconds(health: Any) -> float:
    """How long Swarm watches a new task for a crash: about one failed health cycle, 2..10 s."""
    if health is None:
        return 2.0
    return max(2.0, min(10.0, health.interval * health.retries + health.timeout))


def judge_seconds(health: Any) -> float:
    """How long Dockyard may take to judge a new task: its start period and one probe. Behind the
    edge, Swarm waits that long before it replaces the next task (UpdateConfig.Delay): Swarm cannot
    see that a running task does not answer, so without it a release that never answers would
    replace every task before Dockyard rolls it back."""
    return 0.0 if health is None else health.start_period + health.timeout + 2.0


@dataclass(frozen=True)
class Described:
    """The Swarm services of a release before their configs and secrets exist on the manager."""

    services: dict[str, SwarmService]
    checks: dict[str, HealthCheck]
    wanted: list[Want]
    files: dict[str, bytes]
    secrets: dict[str, bytes] = field(repr=False)  # never in a repr, a log line or a traceback

    def bodies(self, engine: Engine, app: str, env: str, color: str | None = None) -> dict[str, dict[str, Any]]:
        """The ServiceSpecs, creating the configs and secrets they refer to that do not exist yet."""
        configs = ensure_objects(engine, "config", app, env, self.files)
        secret_refs = ensure_objects(engine, "secret", app, env, self.secrets)
        for name, service in self.services.items():
            if service.volumes:  # a node carries its data label before the service is placed by it
                engine.pin_node(L.data_node_label(app, env, name))
        return {name: service_body(replace(s, configs=configs, secrets=secret_refs, color=color))
                for name, s in self.services.items()}

    def one_off_body(self, engine: Engine, service: str, name: str, kind: str, command: list[str],
                     environment: dict[str, str]) -> dict[str, Any]:
        """The ServiceSpec of a one-off task with `service`'s settings (engine/swarm_spec.one_off_body)."""
        s = self.services[service]
        configs = ensure_objects(engine, "config", s.app, s.env, self.files)
        secret_refs = ensure_objects(engine, "secret", s.app, s.env, self.secrets)
        if s.volumes:
            engine.pin_node(L.data_node_label(s.app, s.env, service))
        return one_off_body(replace(s, configs=configs, secrets=secret_refs), name, kind, command, environment)


@dataclass(frozen=True)
class SwarmPlace:
    """One-offs of a release as Swarm services of one task, never restarted (deploy/one_off.Place)."""

    engine: Engine
    app: str
    env: str
    described: Described | None = None

    def leftovers(self) -> list[ReplicaFacts]:
        return self.engine.task_services(self.app, self.env)

    def create(self, service: str, kind: str, command: list[str], name: str,
               environment: dict[str, str] | None = None) -> ReplicaFacts:
        assert self.described is not None
        body = self.described.one_off_body(self.engine, service, name, kind, command, environment or {})
        service_id = self.engine.create_service(body)  # Swarm schedules its task at once
        return ReplicaFacts(id=service_id, name=name, labels=dict(body["Labels"]))

    def start(self, one: ReplicaFacts) -> None:
        """Swarm started it when it was made."""

    def wait(self, one: ReplicaFacts, timeout: float, progress: Callable[[str], None] | None) -> TaskRun:
        return self.engine.await_service_task(one.id, one.name, timeout, progress)

    def remove(self, one: ReplicaFacts) -> None:
        self.engine.remove_service(one.id, one.name)


def describe(spec: AppSpec, engine: Engine, prepared: Prepared, batch: int | None) -> Described:
    """The release as Swarm services; `batch` tasks are replaced at a time (None: all together)."""
    env, env_spec = prepared.env, spec.environment(prepared.env)
    resolved, files, release = prepared.resolved, prepared.files, prepared.release_id
    secrets = resolved.secret_values()
    if secrets and spec.config.secrets == "env":
        raise DeployError(f"{spec.app}/{env}: a Swarm engine delivers secrets as files (/run/secrets/KEY), "
                          "never as environment variables", hint="set config.secrets: file in dockyard.yml")
    holding = sorted(split_secret_files(files, secrets)[1])
    if holding:  # a Swarm config is readable by anyone with `docker config inspect`
        raise DeployError(f"{spec.app}/{env}: config files {', '.join(holding)} hold secrets; on a Swarm engine "
                          "config files are Swarm configs, readable with `docker config inspect`",
                          hint="render them without the secret; the app reads /run/secrets/KEY")
    base_env = {k: v for k, v in resolved.plain_values().items() if k not in secrets}
    image_user = prepared.image_facts.user or None
    services: dict[str, SwarmService] = {}
    checks: dict[str, HealthCheck] = {}
    wanted = []
    for name, service in spec.services.items():
        fields = service.model_dump(mode="json", exclude={"replicas"})
        fields["placement"] = service.placement.model_dump(mode="json") if service.placement else None
        if service.read_only:
            fields["read_only"] = True
        if service.volumes:
            fields["volumes"] = [v.model_dump(mode="json") for v in service.volumes]
        if service.capabilities:
            fields["capabilities"] = list(service.capabilities)
        config_hash = replica_config_hash(release, fields)
        replicas = prepared.replicas(spec, name)
        environment = {**base_env, **resolve_env_refs(spec, env, name, service.env), "DOCKYARD_APP": spec.app,
                       "DOCKYARD_ENV": env, "DOCKYARD_SERVICE": name, "DOCKYARD_RELEASE": release}
        if prepared.commit:
            environment["DOCKYARD_COMMIT"] = prepared.commit
        placement = service.placement
        services[name] = SwarmService(
            app=spec.app, env=env, service=name, image=prepared.image, release_id=release, config_hash=config_hash,
            config_revision=resolved.revision, commit=prepared.commit, replicas=replicas, command=service.command,
            port=service.port, cpus=service.resources.cpus, memory=service.resources.memory,
            user=choose_user(service.user, image_user), environment=environment, init=service.init,
            stop_grace=service.stop_grace, read_only=service.read_only,
            constraints=tuple(placement.constraints) if placement else (),
            preferences=tuple(placement.preferences) if placement else (),
            max_per_node=placement.max_per_node if placement else None,
            network=engine.config.publish_network,
            parallelism=batch or 0, monitor=monitor_seconds(service.health),
            delay=judge_seconds(service.health) if env_spec.domains else 0.0,
            volumes=tuple((v.name, v.path, v.read_only) for v in service.volumes),
            capabilities=tuple(service.capabilities), health_command=health_command(service.health))
        checks[name] = health_check(service.health)
        wanted.append(Want(name, service_name(spec.app, env, name), replicas, config_hash, release))
    return Described(services, checks, wanted, files, {k: v.encode() for k, v in secrets.items()})

"""Deploy a release to an environment whose engine is a Swarm manager: one Swarm service per service.

Called by Deployer.deploy once the image, the configuration and the release id are known, so
promotion, rollback and `releases` work as for containers. Configuration files become Swarm
configs, secrets become Swarm secrets (files under /run/secrets, never env), both named by
their content, so a release always points at exactly the bytes it was deployed with.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.config.render import split_secret_files
from dockyard.deploy.bluegreen import BlueGreen, Release
from dockyard.deploy.edge import publish_edge
from dockyard.deploy.health import HealthCheck, health_check, health_command
from dockyard.deploy.outcome import DeployContext, DeployOutcome, Prepared
from dockyard.deploy.refs import resolve_env_refs
from dockyard.deploy.swarm_edge import SwarmEdge
from dockyard.deploy.swarm_executor import SwarmExecutor
from dockyard.deploy.verify import verify_release
from dockyard.engine import labels as L
from dockyard.engine import swarm_observe as observe
from dockyard.engine.api import DockerError
from dockyard.engine.client import Engine, engine_error
from dockyard.engine.containers import choose_user
from dockyard.engine.swarm_facts import task_url, unused_objects
from dockyard.engine.swarm_spec import FileRef, SwarmService, object_labels, object_name, service_body, service_name
from dockyard.engine.volumes import pin_node
from dockyard.errors import DeployError, DockyardError
from dockyard.plan.release import replica_config_hash
from dockyard.state.lock import env_lock
from dockyard.swarm.plan import SwarmAction, SwarmKind, Want, plan_services


def _objects(engine: Engine, kind: str, app: str, env: str) -> dict[str, str]:
    api = engine.client.api
    fn = api.configs if kind == "config" else api.secrets
    try:
        found = fn(filters={"label": [f"{L.MANAGED}=1", f"{L.APP}={app}", f"{L.ENV}={env}"]})
    except DockerError as exc:
        raise engine_error(f"listing {kind}s on engine {engine.name!r}", exc) from exc
    return {o["Spec"]["Name"]: o["ID"] for o in found}


def ensure_objects(engine: Engine, kind: str, app: str, env: str, items: dict[str, bytes]) -> tuple[FileRef, ...]:
    """Create the configs (target path -> data) or secrets (key -> data) that do not exist yet."""
    existing = _objects(engine, kind, app, env)
    api = engine.client.api
    refs = []
    for key, data in sorted(items.items()):
        name = object_name(app, env, key, data)
        if name not in existing:
            create = api.create_config if kind == "config" else api.create_secret
            try:
                existing[name] = create(name, data, labels=object_labels(app, env, key))["ID"]
            except DockerError as exc:
                raise engine_error(f"creating {kind} {name} for {key}", exc) from exc
        refs.append(FileRef(name=name, id=existing[name], target=key))
    return tuple(refs)


def remove_unused(engine: Engine, app: str, env: str) -> None:
    """Drop configs/secrets no service (nor its previous spec, for Swarm's rollback) still uses."""
    live = observe.services(engine, app, env)
    api = engine.client.api
    for kind, remove in (("config", api.remove_config), ("secret", api.remove_secret)):
        for oid in unused_objects(_objects(engine, kind, app, env), live):
            try:
                remove(oid)
            except DockerError:
                pass  # still in use by a task that is shutting down: the next deploy removes it


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
                pin_node(engine, L.data_node_label(app, env, name))
        return {name: service_body(replace(s, configs=configs, secrets=secret_refs, color=color))
                for name, s in self.services.items()}


def describe(ctx: DeployContext, engine: Engine, prepared: Prepared) -> Described:
    spec, env, env_spec = ctx.spec, prepared.env, ctx.spec.environment(prepared.env)
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
    image_user = (prepared.image_attrs.get("Config") or {}).get("User")
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
            parallelism=0 if env_spec.strategy == "recreate" else 1, monitor=monitor_seconds(service.health),
            delay=judge_seconds(service.health) if env_spec.domains else 0.0,
            volumes=tuple((v.name, v.path, v.read_only) for v in service.volumes),
            capabilities=tuple(service.capabilities), health_command=health_command(service.health))
        checks[name] = health_check(service.health)
        wanted.append(Want(name, service_name(spec.app, env, name), replicas, config_hash, release))
    return Described(services, checks, wanted, files, {k: v.encode() for k, v in secrets.items()})


class SwarmBlueGreen(BlueGreen):
    """Blue/green on Swarm: the same plan and the same balancers, with a Swarm service per service and
    colour. Starting a colour creates its services and waits until every task runs and answers at its
    node's publish address (the Swarm executor); retiring one removes them after nginx drained it."""

    @property
    def described(self) -> Described:
        return self.release.workload  # type: ignore[no-any-return]

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


def deploy_swarm(ctx: DeployContext, engine: Engine, prepared: Prepared, dry_run: bool, note: str,
                 skip_tests: bool = False) -> DeployOutcome:
    spec, env = ctx.spec, prepared.env
    release = prepared.release_id
    observe.require_manager(engine)
    described = describe(ctx, engine, prepared)
    if spec.environment(env).strategy == "blue-green":
        outcome = SwarmBlueGreen(ctx, engine, env, Release.of(prepared, described),
                                 skip_tests=skip_tests).deploy(dry_run=dry_run, note=note)
        if not dry_run:
            with env_lock(spec.app, env):
                remove_unused(engine, spec.app, env)
            router = spec.environment(env).router
            if router is not None:  # the edge follows the balancer's switches
                publish_edge(spec, env, ctx.parts.edge(ctx.report), ctx.report, (f"127.0.0.1:{router.live}",),
                             (f"127.0.0.1:{router.preview}",))
        return outcome
    with env_lock(spec.app, env):
        actions = plan_services(described.wanted, [s for s in observe.services(engine, spec.app, env)
                                                   if s.color is None])
        outcome = DeployOutcome.of(prepared, spec.app, actions, dry_run=dry_run)
        if dry_run:
            return outcome
        bodies = described.bodies(engine, spec.app, env)
        live = ctx.db.live_release(spec.app, env)
        edge = SwarmEdge(ctx, engine, env)
        if all(a.kind is SwarmKind.KEEP for a in actions) and live and live.release_id == release:
            ctx.report(f"{spec.app}/{env} already runs release {release}")
        else:
            for action in actions:
                ctx.report(action.describe())
            record = (env, release, prepared.image, prepared.commit, prepared.config_revision)
            try:
                SwarmExecutor(engine, ctx.report, on_progress=edge.progress).apply(
                    actions, bodies, described.checks, {n: s.port for n, s in spec.services.items()})
                if not skip_tests:
                    verify_release(engine, spec, env, release, prepared.image, ctx.report)
            except DockyardError as exc:
                ctx.record(*record, "failed", note, failure=exc)
                edge.settle()  # the tasks Swarm rolled back to
                raise
            ctx.record(*record, "live", note)
            remove_unused(engine, spec.app, env)
        edge.settle()
    found = [s for s in observe.services(engine, spec.app, env) if s.color is None]
    node_map = observe.nodes(engine)
    outcome.urls = sorted(u for t in observe.tasks(engine, [s.id for s in found]) if t.desired == "running"
                          for s in found if s.id == t.service_id if (u := task_url(t, s.port, node_map)))
    return outcome

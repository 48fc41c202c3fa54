"""Deploy a release (image digest, config revision) to one environment.

Order matters for "nothing half-applied": everything that can fail on bad input (missing
config, template errors, unknown image) fails before the first container is touched.
"""

from __future__ import annotations

from collections.abc import Callable

from dockyard import settings
from dockyard.build.git import head_commit
from dockyard.build.registry import split_ref
from dockyard.config.render import render_files, split_secret_files
from dockyard.config.service import ConfigService, ResolvedConfig
from dockyard.deploy.binds import check_binds
from dockyard.deploy.bluegreen import BlueGreen, Release
from dockyard.deploy.bounds import enforce_policy
from dockyard.deploy.edge import check_edge, publish_edge, replica_servers
from dockyard.deploy.executor import Executor, Workload
from dockyard.deploy.health import HealthCheck, health_check, health_command, probe_label
from dockyard.deploy.outcome import DeployOutcome, Prepared
from dockyard.deploy.parts import Parts
from dockyard.deploy.refs import resolve_config_refs, resolve_env_refs
from dockyard.deploy.swarm import deploy_swarm
from dockyard.deploy.verify import verify_release
from dockyard.engine.api import DockerError, ImageMissing
from dockyard.engine.client import Engine, engine_error, short_reason
from dockyard.engine.containers import ReplicaSpec, choose_user
from dockyard.engine.observe import observe
from dockyard.errors import (
    DeployError,
    DockyardError,
    MissingConfigError,
    RegistryError,
    ReleaseTestFailed,
    StoreUnavailable,
)
from dockyard.notify.emit import emit
from dockyard.plan.deploy import Desired, plan_deploy
from dockyard.plan.release import config_fingerprint, release_id, replica_config_hash
from dockyard.router.colors import routed_service
from dockyard.spec import AppSpec
from dockyard.state.db import StateDB
from dockyard.state.lock import env_lock

Report = Callable[[str], None]


def registry_host(spec: AppSpec, env: str) -> str | None:
    name = spec.environment(env).registry
    return spec.registries[name] if name else None


def used_registries(spec: AppSpec) -> list[str]:
    """The registries some environment deploys from: where a build is pushed."""
    return sorted({host for env in spec.env_names() if (host := registry_host(spec, env))})


def image_for_head(spec: AppSpec, env: str, db: StateDB) -> str:
    """The image this checkout's commit was built and pushed as, for the env's registry."""
    commit = head_commit(spec.base_dir)
    hint = ("the working tree has uncommitted changes: commit them and run `dockyard build`, or run "
            "`dockyard build --allow-dirty` (tagged -dirty; it goes to the first environment only)"
            if commit.dirty else "run: dockyard build")
    registry = registry_host(spec, env)
    if registry:
        pushed = db.pushes(spec.app, commit.tag)
        if registry not in pushed:
            raise DeployError(f"commit {commit.tag} has not been built and pushed to {registry}", hint=hint)
        repo, digest = pushed[registry]
        return f"{repo}@{digest}"
    if db.build(spec.app, commit.tag) is None:
        raise DeployError(f"commit {commit.tag} has not been built", hint=hint)
    return f"{spec.app}:{commit.tag}"


def ensure_image(engine: Engine, ref: str) -> dict:
    """The image's inspect data on the engine, pulling it from its registry when absent."""
    try:
        return engine.client.images.get(ref).attrs
    except ImageMissing:
        pass
    except DockerError as exc:
        raise engine_error(f"looking up {ref}", exc) from exc
    try:
        return engine.client.images.pull(ref).attrs
    except DockerError as exc:
        raise RegistryError(f"engine {engine.name!r} cannot pull {ref}: {short_reason(exc)}",
                            hint="was it built and pushed? dockyard build") from exc


# How many replicas each service gets in a deploy, where the autoscaler or `scale` has a say
# (scale/counts.deploy_counts): given by the caller, so deploy never reaches up into scale.
CountsSource = Callable[[AppSpec, str, Engine, StateDB], dict[str, int]]


def router_ports(spec: AppSpec) -> frozenset[int]:
    """The live and preview ports of every blue-green environment of the app: a replica picked
    before that balancer first listens must not take them."""
    return frozenset(port for e in spec.environments.values() if e.router for port in (e.router.live, e.router.preview))


class Deployer:
    def __init__(self, spec: AppSpec, config: ConfigService, db: StateDB, report: Report,
                 counts: CountsSource | None = None, parts: Parts | None = None) -> None:
        self.spec = spec
        self.parts = parts or Parts()  # the engines, probes and balancers (fakes in unit tests)
        self.config = config
        self.db = db
        self.report = report
        self.counts_source = counts
        self.by: str | None = None  # who the releases are recorded as: the server's caller, else this user

    @property
    def author(self) -> str:
        return self.by or settings.author()

    def record(self, env: str, release_id: str, image: str, commit: str | None, config_revision: int,
               status: str, note: str = "", failure: DockyardError | None = None) -> None:
        """Add the release to the history (every strategy and target records here); a failed one is
        noted with the first line of its error, after the caller's note."""
        if failure is not None:  # a failed release says why, beside what the caller noted
            reason = failure.message.splitlines()[0][:200]
            note = f"{note}: {reason}" if note else reason
        try:
            seq = self.db.add_release(self.spec.app, env, release_id, image, commit, config_revision, status,
                                      self.author, note)
        except StoreUnavailable as exc:
            if status != "live":  # the deploy's own failure is what the user must see
                self.report(f"could not record release {release_id} as {status}: {exc.message}")
                return
            raise DeployError(f"{self.spec.app}/{env}: release {release_id} runs, but could not be recorded: "
                              f"{exc.message}", hint="deploy the same again once the state database is free: "
                                                     "it changes nothing and records the release") from exc
        if status == "live":
            kind, did = ("rolled_back", "rolled back to") if note.startswith("rollback") else ("deployed", "runs")
            emit(self.db, f"release:{self.spec.app}:{env}:{seq}", kind, self.spec.app, env,
                 f"{self.spec.app}/{env} {did} release {release_id} (by {self.author})", release=release_id,
                 image=image, commit=commit, config_revision=config_revision, by=self.author, note=note)

    def resolve(self, env: str, config_revision: int | None) -> tuple[ResolvedConfig, dict[str, bytes]]:
        """The configuration of a release and its rendered files; fails on missing required keys."""
        spec = self.spec
        resolved = resolve_config_refs(spec, env, self.config.resolve(env, spec.app, revision=config_revision))
        missing = self.config.missing_required(resolved, spec.config.required)
        if missing:
            raise MissingConfigError(spec.app, env, missing)
        return resolved, render_files(spec.config.files, spec.base_dir, resolved.plain_values())

    def identify(self, engine: Engine, env: str, image: str, resolved: ResolvedConfig,
                 files: dict[str, bytes], counts: dict[str, int] | None = None) -> Prepared:
        """The release an image makes with a configuration: its id, commit and the image's inspect data."""
        image_attrs = ensure_image(engine, image)
        digest = split_ref(image)[1] or image_attrs["Id"]
        commit = (image_attrs.get("Config", {}).get("Labels") or {}).get("dockyard.commit")
        release = release_id(digest, config_fingerprint(resolved.plain_values(), files))
        return Prepared(env, image, image_attrs, release, commit, resolved, files, counts or {})

    def deploy(self, env: str, image: str | None = None, config_revision: int | None = None,
               dry_run: bool = False, note: str = "", skip_tests: bool = False) -> DeployOutcome:
        """Deploy a release; the environment's endpoint tests run against it (unless skip_tests). A
        rolling or recreate release that fails one is replaced by the release that was live before."""
        before = self.db.live_release(self.spec.app, env)
        try:
            return self._deploy(env, image, config_revision, dry_run, note, skip_tests)
        except ReleaseTestFailed as exc:
            if before is None:
                raise DeployError(f"{exc.message}\n{self.spec.app}/{env} had no earlier release: the failed one "
                                  "still runs", hint="fix it and deploy again") from exc
            self.report(f"putting {env} back on release {before.release_id}")
            try:
                self._deploy(env, before.image, before.config_revision, False,
                             f"restored: release {before.release_id} after a failed test", True)
            except DockyardError as restore:
                raise DeployError(f"{exc.message}\nand {env} could not be put back on release "
                                  f"{before.release_id}: {restore.message}") from exc
            raise DeployError(f"{exc.message}\n{self.spec.app}/{env} is back on release {before.release_id}",
                              hint="fix the release and deploy again") from exc

    def _deploy(self, env: str, image: str | None, config_revision: int | None, dry_run: bool, note: str,
                skip_tests: bool) -> DeployOutcome:
        spec, env_spec = self.spec, self.spec.environment(env)
        image = image or image_for_head(spec, env, self.db)
        enforce_policy(spec, [env])  # where and with which rights: the site's bounds, before anything else
        resolved, files = self.resolve(env, config_revision)
        check_edge(spec, env, lambda: self.parts.edge(self.report))  # a name held elsewhere: refused first
        engine = self.parts.engines(env_spec.engine)
        try:
            check_binds(spec, env, env_spec.engine, engine.config, engine.is_local_host)
            # the autoscaler's count survives a deploy
            counts = self.counts_source(spec, env, engine, self.db) if self.counts_source else {}
            prepared = self.identify(engine, env, image, resolved, files, counts)
            first = spec.env_names()[0]
            labels = (prepared.image_attrs.get("Config") or {}).get("Labels") or {}
            if labels.get("dockyard.dirty") == "true" and env != first:
                raise DeployError(f"{image} was built from uncommitted changes (-dirty): it may go to {first}, "
                                  f"the first environment, never to {env}",
                                  hint="commit the changes, dockyard build, and deploy or promote that")
            if engine.config.swarm:  # one Swarm service per service, on the same strategies
                return deploy_swarm(self, engine, prepared, dry_run=dry_run, note=note, skip_tests=skip_tests)
            workload = self.workload(prepared, engine.is_local_host)
            if env_spec.strategy == "blue-green":
                outcome = BlueGreen(self, engine, env, Release.of(prepared, workload),
                                    skip_tests=skip_tests).deploy(dry_run=dry_run, note=note)
                if not dry_run and env_spec.router is not None:  # the edge follows the balancer's switches
                    publish_edge(spec, env, self.parts.edge(self.report), self.report,
                                 (f"127.0.0.1:{env_spec.router.live}",), (f"127.0.0.1:{env_spec.router.preview}",))
                return outcome
            desired = [Desired(name, prepared.replicas(spec, name), workload.replicas[(name, 1)].config_hash,
                               prepared.release_id) for name in spec.services]
            with env_lock(spec.app, env):
                actions = plan_deploy(desired, observe(engine, spec.app, env))
                outcome = DeployOutcome.of(prepared, spec.app, actions, dry_run=dry_run)
                if dry_run:
                    return outcome
                self._apply(engine, env_spec.strategy, workload, outcome, note, skip_tests)
                self.route_edge(engine, env)
            outcome.urls = [c.url for c in observe(engine, spec.app, env) if c.url]
            return outcome
        finally:
            engine.close()

    def _apply(self, engine: Engine, strategy: str, workload: Workload, outcome: DeployOutcome,
               note: str, skip_tests: bool) -> None:
        live = self.db.live_release(outcome.app, outcome.env)
        if not outcome.changed and live and live.release_id == outcome.release_id:
            self.report(f"{outcome.app}/{outcome.env} already runs release {outcome.release_id}")
            return
        for action in outcome.actions:
            self.report(action.describe())
        try:
            Executor(engine, workload, strategy, self.report, probe=self.parts.probe,
                     before_retire=lambda leaving: self.route_edge(engine, outcome.env, leaving)
                     ).apply(outcome.actions)
            if not skip_tests:
                verify_release(engine, self.spec, outcome.env, outcome.release_id, outcome.image, self.report)
        except DockyardError as exc:
            self.record(outcome.env, outcome.release_id, outcome.image, outcome.commit, outcome.config_revision,
                        "failed", note, failure=exc)
            raise
        self.record(outcome.env, outcome.release_id, outcome.image, outcome.commit, outcome.config_revision,
                    "live", note)

    def route_edge(self, engine: Engine, env: str, leaving: frozenset[str] = frozenset()) -> None:
        """Point the environment's names at its running replicas (without those `leaving`); an
        environment without domains has its old route withdrawn, if it had one."""
        edge = self.parts.edge(self.report)
        if not self.spec.environment(env).domains:
            publish_edge(self.spec, env, edge, self.report, ())
            return
        rows = observe(engine, self.spec.app, env)
        publish_edge(self.spec, env, edge, self.report, replica_servers(rows, routed_service(self.spec), leaving))

    def workload(self, prepared: Prepared, local_engine: bool) -> Workload:
        """Everything needed to start any replica of this release (also the autoscaler's launch template)."""
        spec, env, image, release = self.spec, prepared.env, prepared.image, prepared.release_id
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
        image_user = (prepared.image_attrs.get("Config") or {}).get("User")
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

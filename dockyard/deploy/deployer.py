"""Deploy a release (image digest, config revision) to one environment.

Order matters for "nothing half-applied": everything that can fail on bad input (missing
config, template errors, unknown image) fails before the first container is touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from dockyard import settings
from dockyard.build.git import head_commit
from dockyard.build.registry import split_ref
from dockyard.config.render import render_files
from dockyard.config.service import ConfigService, ResolvedConfig
from dockyard.deploy.binds import check_binds
from dockyard.deploy.bounds import enforce_policy
from dockyard.deploy.edge import check_edge
from dockyard.deploy.history import record_release
from dockyard.deploy.one_off import Finished, TaskContext
from dockyard.deploy.outcome import DeployOutcome, Prepared
from dockyard.deploy.parts import Parts
from dockyard.deploy.refs import resolve_config_refs
from dockyard.deploy.strategies import Strategy, strategy_for
from dockyard.deploy.targets import Target, target_for
from dockyard.engine.interface import Engine
from dockyard.errors import DeployError, DockyardError, MissingConfigError, ReleaseTestFailed
from dockyard.plan.release import config_fingerprint, release_id
from dockyard.spec import AppSpec
from dockyard.state.db import StateDB

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
    ref = image_of_build(spec, env, db, commit.tag)
    if ref is None:
        raise DeployError(f"commit {commit.tag} has not been built and pushed to {registry}", hint=hint)
    if registry is None and db.build(spec.app, commit.tag) is None:
        raise DeployError(f"commit {commit.tag} has not been built", hint=hint)
    return ref


def image_of_build(spec: AppSpec, env: str, db: StateDB, tag: str) -> str | None:
    """The image the build `tag` is deployed as in `env`: repo@digest as pushed to the environment's
    registry (None if it was not), else the engine's own tag."""
    registry = registry_host(spec, env)
    if registry is None:
        return f"{spec.app}:{tag}"
    pushed = db.pushes(spec.app, tag)
    if registry not in pushed:
        return None
    repo, digest = pushed[registry]
    return f"{repo}@{digest}"


# How many replicas each service gets in a deploy, where the autoscaler or `scale` has a say
# (scale/counts.deploy_counts): given by the caller, so deploy never reaches up into scale.
CountsSource = Callable[[AppSpec, str, Engine, StateDB], dict[str, int]]


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
        self.finished = Finished(self.parts.log_grace)  # the one-offs a deploy ran, removed at its end

    @property
    def tasks(self) -> TaskContext:
        return TaskContext(self.db, self.author, self.finished)

    @property
    def author(self) -> str:
        return self.by or settings.author()

    def record(self, env: str, release_id: str, image: str, commit: str | None, config_revision: int,
               status: str, note: str = "", failure: DockyardError | None = None) -> None:
        """Add the release to the history (every strategy and target records here)."""
        record_release(self.db, self.spec.app, self.author, self.report, env, release_id, image, commit,
                       config_revision, status, note, failure)

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
        """The release an image makes with a configuration: its id, commit and what the image says."""
        facts = engine.ensure_image(image)
        digest = split_ref(image)[1] or facts.id
        release = release_id(digest, config_fingerprint(resolved.plain_values(), files))
        return Prepared(env, image, facts, release, facts.commit, resolved, files, counts or {})

    def placement(self, engine: Engine, env: str) -> Target:
        """Where `env` runs on `engine`: its containers, or its Swarm services."""
        return target_for(self, engine, env)

    def strategy(self, engine: Engine, env: str) -> Strategy:
        """How `env` is switched, on its placement."""
        return strategy_for(self.spec.environment(env).strategy, self, self.placement(engine, env))

    def deploy(self, env: str, image: str | None = None, config_revision: int | None = None,
               dry_run: bool = False, note: str = "", skip_tests: bool = False,
               release_task: str = "once", hooks: bool = True) -> DeployOutcome:
        """Deploy a release; the app's release task runs first, once per release (release_task
        "skip": a rollback's; "again": even if it succeeded), its hooks around it (unless `hooks`
        is False: a rollback's), and the environment's endpoint tests against it (unless
        skip_tests). A rolling or recreate release that fails one is replaced by the release that
        was live before."""
        before = self.db.live_release(self.spec.app, env)
        try:
            return self._deploy(env, image, config_revision, dry_run, note, skip_tests, release_task, hooks)
        except ReleaseTestFailed as exc:
            if before is None:
                raise DeployError(f"{exc.message}\n{self.spec.app}/{env} had no earlier release: the failed one "
                                  "still runs", hint="fix it and deploy again") from exc
            self.report(f"putting {env} back on release {before.release_id}")
            try:
                self._deploy(env, before.image, before.config_revision, False,
                             f"restored: release {before.release_id} after {exc.reason}", True, "skip", False)
            except DockyardError as restore:
                raise DeployError(f"{exc.message}\nand {env} could not be put back on release "
                                  f"{before.release_id}: {restore.message}") from exc
            raise DeployError(f"{exc.message}\n{self.spec.app}/{env} is back on release {before.release_id}",
                              hint="fix the release and deploy again") from exc

    def _deploy(self, env: str, image: str | None, config_revision: int | None, dry_run: bool, note: str,
                skip_tests: bool, release_task: str = "once", hooks: bool = True) -> DeployOutcome:
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
            live = self.db.live_release(spec.app, env)
            prepared = replace(self.identify(engine, env, image, resolved, files, counts), release_task=release_task,
                               hooks=hooks, previous=live.release_id if live else None)
            first = spec.env_names()[0]
            if prepared.image_facts.labels.get("dockyard.dirty") == "true" and env != first:
                raise DeployError(f"{image} was built from uncommitted changes (-dirty): it may go to {first}, "
                                  f"the first environment, never to {env}",
                                  hint="commit the changes, dockyard build, and deploy or promote that")
            strategy = self.strategy(engine, env)
            workload = strategy.describe(prepared)  # refused here, before anything is touched
            strategy.target.check_one_offs(prepared)
            if not dry_run:
                strategy.target.sweep_one_offs(self.db)  # what earlier deploys left for the log forwarder
            return strategy.deploy(prepared, workload, dry_run=dry_run, note=note, skip_tests=skip_tests)
        finally:
            self.finished.remove_all()
            engine.close()

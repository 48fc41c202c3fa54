"""An environment's accessories (issue 16): boot, reboot, stop, remove. Apart from the app's
deploys: a deploy, rollback, switch or scale of the app never touches an accessory's container
(it carries no `dockyard.managed` label, so none of them sees it)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace

import orjson

from dockyard.build.builder import build_image, existing_image
from dockyard.build.git import Commit, head_commit
from dockyard.config.service import ConfigService
from dockyard.deploy.binds import check_binds
from dockyard.deploy.bounds import enforce_policy
from dockyard.deploy.parts import Parts
from dockyard.engine import labels as L
from dockyard.engine.accessories import (
    AccessoryRun,
    AccessoryState,
    accessory_create_kwargs,
)
from dockyard.engine.containers import CommandCheck, choose_user
from dockyard.engine.facts import ImageFacts
from dockyard.engine.interface import Engine
from dockyard.engine.placement import placement
from dockyard.engine.secretfiles import remove_secret_files, write_secret_files
from dockyard.errors import DeployError, MissingConfigError
from dockyard.spec import AppSpec
from dockyard.spec.accessory import AccessorySpec
from dockyard.state.lock import env_lock

Report = Callable[[str], None]


class Accessories:
    def __init__(self, spec: AppSpec, config: ConfigService, report: Report, parts: Parts | None = None,
                 commit: Commit | None = None) -> None:
        self.spec = spec
        self.config = config
        self.report = report
        self.parts = parts or Parts()
        # the commit an accessory's `build:` is of: a pipeline run's (its tree is an export, not a
        # checkout); by default the checkout's head
        self.commit = commit

    def _engine(self, env: str) -> Engine:
        engine = self.parts.engines(self.spec.environment(env).engine)
        if not placement(engine).hosts_accessories:
            engine.close()
            raise DeployError(f"environment {env!r} runs on Swarm engine {engine.name!r}: accessories run on one "
                              "Docker engine for now", hint="give the environment a single engine (engine: local)")
        return engine

    def image_of(self, engine: Engine, accessory: AccessorySpec) -> tuple[str, ImageFacts]:
        """(reference, inspect data): a registry reference as given, or built from this checkout."""
        if accessory.image:
            return accessory.image, engine.ensure_image(accessory.image)
        assert accessory.build is not None  # the spec holds one of the two
        repo = f"{self.spec.app}_{accessory.name}"  # '_' is in no app name: never another app's repository
        commit = self.commit or head_commit(self.spec.base_dir)
        if existing_image(engine, repo, commit) is None:
            self.report(f"building {repo}:{commit.tag}")
            build_image(engine, repo, self.spec.resolve(accessory.build.context), accessory.build.dockerfile,
                        dict(accessory.build.args), commit, lambda _line: None)
        return f"{repo}:{commit.tag}", engine.ensure_image(f"{repo}:{commit.tag}")

    def _run(self, engine: Engine, env: str, accessory: AccessorySpec) -> tuple[AccessoryRun, dict[str, str]]:
        """Its container's definition and the secrets it reads (written to files at its start)."""
        spec = self.spec
        resolved = self.config.resolve(env, spec.app)
        missing = [key for key in accessory.config if key not in resolved.values]
        if missing:
            raise MissingConfigError(spec.app, env, missing)
        secrets = {k: resolved.values[k] for k in accessory.config if k in resolved.secret_keys}
        if secrets and not engine.is_local_host:
            raise DeployError(f"accessory {accessory.name} reads secrets ({', '.join(sorted(secrets))}) and engine "
                              f"{engine.name!r} is remote: they are delivered as files on this host")
        enforce_policy(spec, [env])
        check_binds(spec, env, engine.name, engine.config, engine.is_local_host, accessories=[accessory.name])
        plain = {k: resolved.values[k] for k in accessory.config if k not in secrets}
        image, facts = self.image_of(engine, accessory)
        health = accessory.health
        run = AccessoryRun(
            app=spec.app, env=env, name=accessory.name, image=image, config_hash="",
            user=choose_user(accessory.user, facts.user or None),
            command=tuple(accessory.command) if accessory.command else None, port=accessory.port,
            publish=accessory.publish, environment=tuple(sorted({**plain, **accessory.env}.items())),
            volumes=tuple((v.name, v.path, v.read_only) for v in accessory.volumes),
            binds=tuple((b.host, b.path, b.read_only) for b in accessory.binds),
            capabilities=tuple(accessory.capabilities),
            health=CommandCheck(tuple(health.cmd), health.interval, health.timeout, health.retries,
                             health.start_period) if health else None,
            cpus=accessory.resources.cpus, memory=accessory.resources.memory, stop_grace=accessory.stop_grace)
        digest = hashlib.sha256(orjson.dumps({"run": accessory_create_kwargs(run), "image": facts.id,
                                              "secrets": secrets}, option=orjson.OPT_SORT_KEYS)).hexdigest()
        return replace(run, config_hash=digest[:16]), secrets

    def exists(self, env: str, name: str) -> bool:
        """Whether the accessory has a container in `env`, running or not."""
        engine = self._engine(env)
        try:
            return engine.find_accessory(self.spec.app, env, name) is not None
        finally:
            engine.close()

    def boot(self, env: str, name: str, timeout: float = 120.0) -> AccessoryState:
        """Start it when it does not run (its volumes and network made first); wait for its health."""
        accessory = self.spec.accessory(env, name)
        engine = self._engine(env)
        try:
            with env_lock(self.spec.app, env, wait=True, doing="accessory"):
                run, secrets = self._run(engine, env, accessory)
                found = engine.find_accessory(self.spec.app, env, name)
                if found is not None and found.state == "running":
                    if found.config_hash != run.config_hash:
                        self.report(f"{run.container} runs an older definition: `dockyard accessory reboot {env} "
                                    f"{name}` restarts it with this one")
                    else:
                        self.report(f"{run.container} already runs")
                    return self._wait(engine, env, name, found.id, timeout)
                if found is not None:  # stopped or crashed for good: made anew, its data stays in its volumes
                    engine.stop_and_remove(found.id, found.container, accessory.stop_grace)
                return self._start(engine, env, run, secrets, timeout)
        finally:
            engine.close()

    def reboot(self, env: str, name: str, timeout: float = 120.0) -> AccessoryState:
        """Stop and remove its container, then start it anew from the current definition (new image,
        configuration, secrets); its volumes, so its data, stay."""
        accessory = self.spec.accessory(env, name)
        engine = self._engine(env)
        try:
            with env_lock(self.spec.app, env, wait=True, doing="accessory"):
                run, secrets = self._run(engine, env, accessory)  # bad config fails before it stops
                found = engine.find_accessory(self.spec.app, env, name)
                if found is not None:
                    engine.stop_and_remove(found.id, found.container, accessory.stop_grace)
                    self.report(f"stopped and removed {run.container}")
                return self._start(engine, env, run, secrets, timeout)
        finally:
            engine.close()

    def stop(self, env: str, name: str) -> bool:
        """Stop it (it stays stopped until booted); False when it was not running."""
        accessory = self.spec.accessory(env, name)
        engine = self._engine(env)
        try:
            found = engine.find_accessory(self.spec.app, env, name)
            if found is None or found.state != "running":
                return False
            engine.stop_replica(found.id, found.container, accessory.stop_grace)
            return True
        finally:
            engine.close()

    def remove(self, env: str, name: str, purge: bool = False) -> list[str]:
        """Remove its container; with `purge` its volumes too (its data)."""
        accessory = self.spec.accessory(env, name)
        engine = self._engine(env)
        done: list[str] = []
        try:
            with env_lock(self.spec.app, env, wait=True, doing="accessory"):
                found = engine.find_accessory(self.spec.app, env, name)
                if found is not None and engine.stop_and_remove(found.id, found.container, accessory.stop_grace):
                    done.append(f"removed {found.container}")
                for volume in accessory.volumes:
                    full = L.volume_name(self.spec.app, env, name, volume.name)
                    if purge:
                        engine.remove_volume(full)
                        done.append(f"removed volume {full} (its data)")
                    else:
                        done.append(f"kept volume {full} (remove --purge removes it)")
        finally:
            engine.close()
        return done

    def _start(self, engine: Engine, env: str, run: AccessoryRun, secrets: dict[str, str],
               timeout: float) -> AccessoryState:
        engine.ensure_network(run.app, env)
        for volume, _path, _ro in run.volumes:
            engine.ensure_volume(run.app, env, run.name, volume)
        secrets_dir = None
        if secrets:
            secrets_dir, _ = write_secret_files(secrets, run.user)
        try:
            container_id = engine.start_accessory(replace(run, secrets_dir=secrets_dir))
        except BaseException:
            remove_secret_files(secrets_dir)
            raise
        self.report(f"started {run.container}")
        return self._wait(engine, env, run.name, container_id, timeout)

    def _wait(self, engine: Engine, env: str, name: str, container_id: str, timeout: float) -> AccessoryState:
        return engine.wait_accessory(container_id, f"accessory {name} of {self.spec.app}/{env}", timeout,
                            f"dockyard accessory logs {env} {name}")

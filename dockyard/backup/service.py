"""Backups of an environment's volumes and accessories (issue 16): create, list, restore, prune.

A backup is consistent: an accessory with a dump command dumps itself (run in its container); a
plain volume is copied with every container that mounts it paused. A restore checks everything
it can first (the target is not in use, the archive's checksum, every byte and every tar member
of it), then restores into fresh volumes and swaps them in (backup/restore.py): a refused or failed
restore has overwritten nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from dockyard.backup.archive import verify, write_archive
from dockyard.backup.plan import ID_PATTERN, Manifest, archive_key, manifest_key, new_id, prefix, to_prune
from dockyard.backup.restore import Restore
from dockyard.backup.stores import BackupStore, listed
from dockyard.backup.target import Target, resolve_target
from dockyard.build.git import Commit
from dockyard.config.service import ConfigService
from dockyard.deploy.accessories import Accessories
from dockyard.deploy.parts import Parts
from dockyard.engine import labels as L
from dockyard.engine.backups import tar_directories
from dockyard.engine.client import connect
from dockyard.engine.containers import choose_user
from dockyard.engine.interface import VolumeEngine
from dockyard.engine.placement import placement
from dockyard.errors import BackupError, NotFound
from dockyard.spec import AppSpec
from dockyard.state.lock import env_lock

Report = Callable[[str], None]


class Backups:
    def __init__(self, spec: AppSpec, store: BackupStore, config: ConfigService, report: Report, by: str,
                 parts: Parts | None = None, host_paths: bool = True,
                 engines: Callable[[str], VolumeEngine] = connect, commit: Commit | None = None) -> None:
        self.spec, self.store, self.config, self.report, self.by = spec, store, config, report, by
        self.commit = commit  # the commit an accessory built from the repository is of (a run's export)
        self.parts = parts or Parts()
        self.engines = engines  # site engine name -> a connection that can copy volumes
        # volumes of an engine on this host are read and written in its directories (GNU tar, several
        # times the Engine API's archive speed); False: always through the API, as for a remote engine
        self.host_paths = host_paths

    def _on_host(self, engine: VolumeEngine, by_full: dict[str, str]) -> dict[str, Path] | None:
        return engine.host_mountpoints(by_full) if self.host_paths else None

    def _engine(self, env: str) -> VolumeEngine:
        engine = self.engines(self.spec.environment(env).engine)
        if not placement(engine).hosts_accessories:
            engine.close()
            raise BackupError(f"environment {env!r} runs on a Swarm engine: backups copy volumes of one engine")
        return engine

    # ---- create

    def create(self, env: str, name: str) -> Manifest:
        target = resolve_target(self.spec, env, name)
        self.store.check()  # an unreachable bucket fails before anything is paused or dumped
        engine = self._engine(env)
        try:
            manifest = Manifest(id=new_id(time.time()), app=self.spec.app, env=env, target=target.name,
                                kind=target.kind, volumes=sorted(target.volumes) if target.kind == "volumes" else [],
                                created_at=time.time(), by=self.by)
            with self.store.staging() as staged:
                if target.kind == "dump":
                    raw, size, digest = self._dump(engine, env, target, staged)
                else:
                    raw, size, digest = self._copy(engine, target, staged)
                manifest = replace(manifest, raw_size=raw, size=size, sha256=digest)
                self.store.commit(staged, archive_key(manifest))
            self.store.put_bytes(manifest_key(manifest), manifest.to_json())  # last: now it is listed
        finally:
            engine.close()
        self.report(f"backup {manifest.id} of {self.spec.app}/{env} {name}: {manifest.raw_size} bytes, "
                    f"{manifest.size} compressed, in {self.store.describe()}")
        return manifest

    def _dump(self, engine: VolumeEngine, env: str, target: Target, staged: Path) -> tuple[int, int, str]:
        assert target.accessory is not None and target.accessory.backup is not None
        container = engine.accessory_container(self.spec.app, env, target.name)
        if container is None or container.status != "running":
            raise BackupError(f"accessory {target.name} of {self.spec.app}/{env} is not running: its dump runs in it",
                              hint=f"dockyard accessory boot {env} {target.name}")
        assert target.accessory.backup.dump is not None
        return write_archive(engine.exec_stdout(container.id, container.name, list(target.accessory.backup.dump)),
                             staged)

    def _copy(self, engine: VolumeEngine, target: Target, staged: Path) -> tuple[int, int, str]:
        writers = list(dict.fromkeys(c.id for full in target.volumes.values() for c in engine.volume_users(full)))
        missing = [full for full in target.volumes.values() if not engine.volume_exists(full)]
        if missing:
            raise BackupError(f"volume {missing[0]} does not exist: nothing to back up")
        by_full = {full: short for short, full in target.volumes.items()}
        on_host = self._on_host(engine, by_full)
        with engine.paused(writers):
            if on_host is not None:  # an engine on this host: its directories, read by GNU tar
                return write_archive(tar_directories(on_host), staged)
            with engine.volume_copier(by_full, {L.APP: self.spec.app}, read_only=True) as box:
                return write_archive(engine.read_volumes(box), staged)

    def booted(self, env: str, name: str) -> bool:
        """Whether there is anything to back up yet: the accessory's container (a dump runs in it), or
        the target's volumes. A schedule skips an accessory never booted in an environment."""
        target = resolve_target(self.spec, env, name)
        engine = self._engine(env)
        try:
            if target.kind == "dump":
                return engine.accessory_container(self.spec.app, env, name) is not None
            return all(engine.volume_exists(full) for full in target.volumes.values())
        finally:
            engine.close()

    # ---- list, prune

    def ls(self, env: str, name: str | None = None) -> list[Manifest]:
        """The environment's backups (of one target), newest first."""
        return listed(self.store, self.spec.app, env, name)

    def find(self, env: str, name: str, backup_id: str) -> Manifest:
        if not ID_PATTERN.fullmatch(backup_id):
            raise BackupError(f"{backup_id!r} is not a backup id (like 20261203T020000Z-a1b2c3)",
                              hint=f"dockyard backup ls {env} {name}")
        try:
            return Manifest.from_json(self.store.get_bytes(f"{prefix(self.spec.app, env, name)}{backup_id}.json"),
                                      backup_id)
        except NotFound as exc:
            raise NotFound(f"no backup {backup_id} of {self.spec.app}/{env} {name} in {self.store.describe()}",
                           hint=f"dockyard backup ls {env} {name}") from exc

    def prune(self, env: str, name: str) -> list[Manifest]:
        """Delete what the target's retention (its accessory's backup.keep) does not keep."""
        target = resolve_target(self.spec, env, name)
        keep = (target.accessory.backup_spec() if target.accessory else None)
        last, daily, weekly = (keep.keep.last, keep.keep.daily, keep.keep.weekly) if keep else (7, 7, 4)
        gone = to_prune(self.ls(env, name), last, daily, weekly)
        for manifest in gone:
            self.store.delete(manifest_key(manifest))  # first: a half-deleted backup is never listed
            self.store.delete(archive_key(manifest))
            self.report(f"deleted backup {manifest.id} of {self.spec.app}/{env} {name} (retention)")
        return gone

    # ---- restore

    def restore(self, env: str, name: str, backup_id: str, source_env: str | None = None) -> Manifest:
        """Replace the target's data in `env` with a backup of it (taken in `source_env`)."""
        target = resolve_target(self.spec, env, name)
        source = source_env or env
        self.spec.environment(source)
        manifest = self.find(source, name, backup_id)
        if manifest.kind != target.kind or (manifest.kind == "volumes" and manifest.volumes != sorted(target.volumes)):
            raise BackupError(f"backup {backup_id} holds {manifest.kind} {', '.join(manifest.volumes)}; {name} "
                              f"in {env} is restored from {target.kind} {', '.join(sorted(target.volumes))}")
        engine = self._engine(env)
        try:
            with env_lock(self.spec.app, env, wait=True, doing="backup", mind_hand_lock=False):
                self._refuse_in_use(engine, env, target)
                with self.store.local_copy(archive_key(manifest)) as archive:
                    verify(archive, manifest)  # a damaged, changed or hostile archive is refused here
                    restore = Restore(self.spec.app, env, target, engine, self.report, self.host_paths)
                    if manifest.kind == "dump":
                        restore.dump(archive, *self._restore_command(engine, target))
                    else:
                        restore.volumes(archive)
        finally:
            engine.close()
        self.report(f"restored {self.spec.app}/{env} {name} from backup {backup_id}"
                    + (f" of {source}" if source != env else ""))
        return manifest

    def _refuse_in_use(self, engine: VolumeEngine, env: str, target: Target) -> None:
        if target.accessory is not None:
            found = engine.accessory_container(self.spec.app, env, target.name)
            if found is not None and found.status in ("running", "restarting", "paused"):
                raise BackupError(f"accessory {target.name} of {self.spec.app}/{env} runs: a restore replaces its "
                                  "data, so stop it first; nothing was restored",
                                  hint=f"dockyard accessory stop {env} {target.name}")
            return
        for full in target.volumes.values():
            users = [c.name for c in engine.volume_users(full)]
            if users:
                raise BackupError(f"volume {full} is used by {', '.join(users)}: a restore replaces its data; "
                                  "nothing was restored",
                                  hint=f"dockyard scale {env} {target.owner} 0 (or dockyard down {env}) first")

    def _restore_command(self, engine: VolumeEngine, target: Target) -> tuple[str, str, list[str]]:
        """The image, user and argv the accessory's restore command runs with."""
        accessory = target.accessory
        assert accessory is not None and accessory.backup is not None and accessory.backup.restore is not None
        image, facts = Accessories(self.spec, self.config, self.report, self.parts, commit=self.commit).image_of(
            engine, accessory)
        return image, choose_user(accessory.user, facts.user or None), \
            list(accessory.backup.restore)

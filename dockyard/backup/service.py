"""Backups of an environment's volumes and accessories (issue 16): create, list, restore, prune.

A backup is consistent: an accessory with a dump command dumps itself (run in its container); a
plain volume is copied with every container that mounts it paused. A restore checks everything
it can first (the target is not in use, the archive's checksum and every byte of it) and only
then replaces the data; a refused restore has overwritten nothing.
"""

from __future__ import annotations

import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from dockyard.backup.archive import decompressed, verify, write_archive
from dockyard.backup.plan import ID_PATTERN, Manifest, archive_key, manifest_key, new_id, prefix, to_prune
from dockyard.backup.stores import BackupStore
from dockyard.config.service import ConfigService
from dockyard.deploy.accessories import Accessories
from dockyard.deploy.parts import Parts
from dockyard.engine import labels as L
from dockyard.engine.accessories import find_accessory
from dockyard.engine.actions import stop_and_remove
from dockyard.engine.backups import (
    copier,
    exec_stdout,
    host_mountpoints,
    paused,
    read_volumes,
    run_once,
    tar_directories,
    untar_directory,
    users_of,
    volume_exists,
    write_volumes,
)
from dockyard.engine.client import Engine
from dockyard.engine.containers import choose_user
from dockyard.engine.volumes import ensure_volume, remove_volume
from dockyard.errors import BackupError, NotFound
from dockyard.spec import AppSpec
from dockyard.spec.accessory import AccessorySpec
from dockyard.state.lock import env_lock

Report = Callable[[str], None]
DUMP_PATH = "/dockyard-restore/dump"  # where a restore command finds the dump ($DOCKYARD_DUMP)
RESTORE_TIMEOUT = 3600.0


@dataclass(frozen=True)
class Target:
    """What a backup copies: an accessory (its dump, or its volumes) or one volume of a service."""

    name: str  # ACCESSORY or SERVICE/VOLUME
    owner: str  # the accessory or service the volumes belong to
    volumes: dict[str, str]  # short name -> full engine name
    accessory: AccessorySpec | None

    @property
    def kind(self) -> str:
        return "dump" if self.accessory is not None and self.accessory.backup_spec().dump else "volumes"


def resolve_target(spec: AppSpec, env: str, name: str) -> Target:
    if "/" in name:
        service_name, _, volume = name.partition("/")
        service = spec.service(service_name)
        if volume not in {v.name for v in service.volumes}:
            known = ", ".join(f"{service_name}/{v.name}" for v in service.volumes) or "none"
            raise NotFound(f"service {service_name} has no volume {volume!r} (its volumes: {known})")
        return Target(name, service_name, {volume: L.volume_name(spec.app, env, service_name, volume)}, None)
    if name in spec.services:
        raise BackupError(f"{name} is a service: name one of its volumes, SERVICE/VOLUME "
                          f"({', '.join(f'{name}/{v.name}' for v in spec.services[name].volumes) or 'it has none'})")
    accessory = spec.accessory(env, name)
    volumes = {v.name: L.volume_name(spec.app, env, name, v.name) for v in accessory.volumes}
    target = Target(name, name, volumes, accessory)
    if target.kind == "volumes" and not volumes:
        raise BackupError(f"accessory {name} has no volume and no backup.dump: there is nothing to back up")
    return target


class Backups:
    def __init__(self, spec: AppSpec, store: BackupStore, config: ConfigService, report: Report, by: str,
                 parts: Parts | None = None, host_paths: bool = True) -> None:
        self.spec, self.store, self.config, self.report, self.by = spec, store, config, report, by
        self.parts = parts or Parts()
        # volumes of an engine on this host are read and written in its directories (GNU tar, several
        # times the Engine API's archive speed); False: always through the API, as for a remote engine
        self.host_paths = host_paths

    def _on_host(self, engine: Engine, by_full: dict[str, str]) -> dict[str, Path] | None:
        return host_mountpoints(engine, by_full) if self.host_paths else None

    def _engine(self, env: str) -> Engine:
        engine = self.parts.engines(self.spec.environment(env).engine)
        if engine.config.swarm:
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

    def _dump(self, engine: Engine, env: str, target: Target, staged: Path) -> tuple[int, int, str]:
        assert target.accessory is not None and target.accessory.backup is not None
        container = find_accessory(engine, self.spec.app, env, target.name)
        if container is None or container.status != "running":
            raise BackupError(f"accessory {target.name} of {self.spec.app}/{env} is not running: its dump runs in it",
                              hint=f"dockyard accessory boot {env} {target.name}")
        assert target.accessory.backup.dump is not None
        return write_archive(exec_stdout(container, list(target.accessory.backup.dump)), staged)

    def _copy(self, engine: Engine, target: Target, staged: Path) -> tuple[int, int, str]:
        writers = {c.id: c for full in target.volumes.values() for c in users_of(engine, full)}
        missing = [full for full in target.volumes.values() if not volume_exists(engine, full)]
        if missing:
            raise BackupError(f"volume {missing[0]} does not exist: nothing to back up")
        by_full = {full: short for short, full in target.volumes.items()}
        on_host = self._on_host(engine, by_full)
        with paused(engine, list(writers.values())):
            if on_host is not None:  # an engine on this host: its directories, read by GNU tar
                return write_archive(tar_directories(on_host), staged)
            with copier(engine, by_full, {L.APP: self.spec.app}, read_only=True) as box:
                return write_archive(read_volumes(box), staged)

    def booted(self, env: str, name: str) -> bool:
        """Whether there is anything to back up yet: the accessory's container (a dump runs in it), or
        the target's volumes. A schedule skips an accessory never booted in an environment."""
        target = resolve_target(self.spec, env, name)
        engine = self._engine(env)
        try:
            if target.kind == "dump":
                return find_accessory(engine, self.spec.app, env, name) is not None
            return all(volume_exists(engine, full) for full in target.volumes.values())
        finally:
            engine.close()

    # ---- list, prune

    def ls(self, env: str, name: str | None = None) -> list[Manifest]:
        """The environment's backups (of one target), newest first."""
        where = prefix(self.spec.app, env, name) if name else f"{self.spec.app}/{env}/"
        found = [Manifest.from_json(self.store.get_bytes(key), key) for key in self.store.keys(where)
                 if key.endswith(".json")]
        return sorted(found, key=lambda m: (m.created_at, m.id), reverse=True)

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
            with env_lock(self.spec.app, env, wait=True):
                self._refuse_in_use(engine, env, target)
                with self.store.local_copy(archive_key(manifest)) as archive:
                    verify(archive, manifest)  # a damaged or changed archive is refused here, before any change
                    self._clear_stopped_accessory(engine, env, target)
                    if manifest.kind == "dump":
                        self._restore_dump(engine, env, target, archive)
                    else:
                        self._restore_volumes(engine, env, target, archive)
        finally:
            engine.close()
        self.report(f"restored {self.spec.app}/{env} {name} from backup {backup_id}"
                    + (f" of {source}" if source != env else ""))
        return manifest

    def _refuse_in_use(self, engine: Engine, env: str, target: Target) -> None:
        if target.accessory is not None:
            found = find_accessory(engine, self.spec.app, env, target.name)
            if found is not None and found.status in ("running", "restarting", "paused"):
                raise BackupError(f"accessory {target.name} of {self.spec.app}/{env} runs: a restore replaces its "
                                  "data, so stop it first; nothing was restored",
                                  hint=f"dockyard accessory stop {env} {target.name}")
            return
        for full in target.volumes.values():
            users = [c.name or "" for c in users_of(engine, full)]
            if users:
                raise BackupError(f"volume {full} is used by {', '.join(users)}: a restore replaces its data; "
                                  "nothing was restored",
                                  hint=f"dockyard scale {env} {target.owner} 0 (or dockyard down {env}) first")

    def _clear_stopped_accessory(self, engine: Engine, env: str, target: Target) -> None:
        """A stopped accessory's container still holds its volumes: removed (boot makes it anew)."""
        if target.accessory is None:
            return
        found = find_accessory(engine, self.spec.app, env, target.name)
        if found is not None:
            stop_and_remove(engine, found.id or "", found.name or "", target.accessory.stop_grace)

    def _restore_volumes(self, engine: Engine, env: str, target: Target, archive: Path) -> None:
        for short, full in target.volumes.items():
            remove_volume(engine, full)  # emptied: files the backup did not have must not stay
            ensure_volume(engine, self.spec.app, env, target.owner, short)
        by_full = {full: short for short, full in target.volumes.items()}
        on_host = self._on_host(engine, by_full)
        if on_host is not None:
            for short, mountpoint in on_host.items():
                with decompressed(archive) as stream:
                    untar_directory(stream, short, mountpoint)
            return
        with copier(engine, by_full, {L.APP: self.spec.app}, read_only=False) as box, \
                decompressed(archive) as stream:
            write_volumes(box, stream)

    def _restore_dump(self, engine: Engine, env: str, target: Target, archive: Path) -> None:
        accessory = target.accessory
        assert accessory is not None and accessory.backup is not None and accessory.backup.restore is not None
        image, attrs = Accessories(self.spec, self.config, self.report, self.parts).image_of(engine, accessory)
        user = choose_user(accessory.user, (attrs.get("Config") or {}).get("User"))
        for short in target.volumes:
            ensure_volume(engine, self.spec.app, env, target.owner, short)
        paths = {full: next(v.path for v in accessory.volumes if v.name == short)
                 for short, full in target.volumes.items()}
        with tempfile.TemporaryDirectory(prefix="dockyard-restore-") as directory:
            bundle = Path(directory) / "dump.tar"
            _dump_tar(archive, bundle, user)
            with bundle.open("rb") as files:
                run_once(engine, image, list(accessory.backup.restore), paths, user, files,
                         {"DOCKYARD_DUMP": DUMP_PATH}, {L.APP: self.spec.app}, RESTORE_TIMEOUT)


def _dump_tar(archive: Path, bundle: Path, user: str) -> None:
    """A tar holding the decompressed dump at DUMP_PATH, readable by the restore command's user."""
    uid, _, gid = user.partition(":")
    with tempfile.NamedTemporaryFile(dir=bundle.parent) as raw:
        with decompressed(archive) as stream:
            while block := stream.read(1024 * 1024):
                raw.write(block)
        raw.flush()
        with tarfile.open(bundle, "w") as tar:
            directory = tarfile.TarInfo(DUMP_PATH.lstrip("/").rsplit("/", 1)[0])
            directory.type, directory.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(directory)
            info = tar.gettarinfo(raw.name, arcname=DUMP_PATH.lstrip("/"))
            info.mode = 0o400
            info.uid = int(uid) if uid.isdigit() else 0
            info.gid = int(gid or uid) if (gid or uid).isdigit() else 0
            info.uname = info.gname = ""
            with open(raw.name, "rb") as fh:
                tar.addfile(info, fh)

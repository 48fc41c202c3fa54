"""A restore, once its archive was verified whole (backup/archive.py verify: checksum, every byte,
every tar member): made in fresh staging volumes, and swapped into the live ones only once it
succeeded (issue 28).

- volumes: the archive is unpacked into the staging volumes (GNU tar in their directories on this
  host, the Engine API's archive endpoint elsewhere);
- a dump: the accessory's restore command runs with the staging volumes at its volumes' paths
  (fresh, as at a first boot: the image's files there), so a command that deletes the data and
  then fails on a bad dump deletes nothing that was live;
- then the swap (engine/volume_swap.py): an atomic exchange of the directories on this host, or
  renames inside each volume by a helper container, undone on failure.

So a failure at any step leaves the live data as it was; the staging volumes are removed either way.
"""

from __future__ import annotations

import secrets
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dockyard.backup.archive import decompressed
from dockyard.backup.target import Target
from dockyard.engine import labels as L
from dockyard.engine.backups import untar_directory
from dockyard.engine.interface import VolumeEngine
from dockyard.engine.volume_swap import exchange_on_host
from dockyard.errors import BackupError, DockyardError

Report = Callable[[str], None]
DUMP_PATH = "/dockyard-restore/dump"  # where a restore command finds the dump ($DOCKYARD_DUMP)
RESTORE_TIMEOUT = 3600.0


@dataclass
class Restore:
    app: str
    env: str
    target: Target
    engine: VolumeEngine
    report: Report
    host_paths: bool  # False: always through the Engine API, as for a remote engine

    @property
    def what(self) -> str:
        return f"{self.target.name} of {self.app}/{self.env}"

    def volumes(self, archive: Path) -> None:
        self._run(lambda staged: self._unpack(archive, staged))

    def dump(self, archive: Path, image: str, user: str, argv: list[str]) -> None:
        self._run(lambda staged: self._restore_command(archive, staged, image, user, argv))

    # ---- the steps

    def _run(self, fill: Callable[[dict[str, str]], None]) -> None:
        restore_id = secrets.token_hex(4)
        staged: dict[str, str] = {}  # short name -> staging volume
        try:
            for short, live in sorted(self.target.volumes.items()):
                staged[short] = self.engine.staging_volume(self.app, self.env, live, restore_id)
            try:
                fill(staged)
            except DockyardError as exc:
                raise BackupError(f"restoring {self.what} failed before its data was touched: {exc.message}; "
                                  "its data is as it was") from exc
            self._clear_stopped_accessory()
            for short in staged:
                self.engine.ensure_volume(self.app, self.env, self.target.owner, short)
            self._swap(staged, restore_id)
        finally:
            for name in staged.values():
                try:
                    self.engine.remove_volume(name)
                except DockyardError as exc:
                    self.report(f"warning: the staging volume {name} is left: {exc.message}")

    def _on_host(self, volumes: dict[str, str]) -> dict[str, Path] | None:
        return self.engine.host_mountpoints(volumes) if self.host_paths else None

    def _unpack(self, archive: Path, staged: dict[str, str]) -> None:
        by_full = {name: short for short, name in staged.items()}
        directories = self._on_host(by_full)
        if directories is not None:
            for short, directory in directories.items():
                with decompressed(archive) as stream:
                    untar_directory(stream, short, directory)
            return
        with self.engine.volume_copier(by_full, {L.APP: self.app}, read_only=False) as box, \
                decompressed(archive) as stream:
            self.engine.write_volumes(box, stream)

    def _restore_command(self, archive: Path, staged: dict[str, str], image: str, user: str,
                         argv: list[str]) -> None:
        assert self.target.accessory is not None
        paths = {staged[v.name]: v.path for v in self.target.accessory.volumes if v.name in staged}
        with tempfile.TemporaryDirectory(prefix="dockyard-restore-") as directory:
            bundle = Path(directory) / "dump.tar"
            _dump_tar(archive, bundle, user)
            with bundle.open("rb") as files:
                self.engine.run_once(image, argv, paths, user, files, {"DOCKYARD_DUMP": DUMP_PATH},
                                     {L.APP: self.app}, RESTORE_TIMEOUT)

    def _clear_stopped_accessory(self) -> None:
        """A stopped accessory's container still names its volumes: removed (boot makes it anew)."""
        accessory = self.target.accessory
        if accessory is None:
            return
        found = self.engine.accessory_container(self.app, self.env, accessory.name)
        if found is not None:
            self.engine.stop_and_remove(found.id, found.name, accessory.stop_grace)

    def _swap(self, staged: dict[str, str], restore_id: str) -> None:
        live = self.target.volumes
        failed = f"restoring {self.what} failed while swapping the restored data in"
        live_dirs = self._on_host({live[short]: short for short in staged})
        staged_dirs = self._on_host({name: short for short, name in staged.items()})
        if live_dirs is not None and staged_dirs is not None:
            try:
                if exchange_on_host([(live_dirs[short], staged_dirs[short]) for short in staged]):
                    return  # the staging volumes now hold the old data, removed with them
            except DockyardError as exc:
                raise BackupError(f"{failed}: {exc.message}") from exc
        labels = {L.APP: self.app}

        def step(name: str, short: str, timeout: float = RESTORE_TIMEOUT) -> None:
            self.engine.swap_volume_data(name, live[short], staged[short], restore_id, labels, timeout)

        swapped: list[str] = []
        try:
            for short in staged:
                step("swap", short)
                swapped.append(short)
        except DockyardError as exc:
            for short in reversed(swapped):  # a later volume failed: the earlier ones back as they were
                try:
                    step("undo", short)
                except DockyardError as undo:
                    raise BackupError(f"{failed} ({exc.message}), and putting volume {live[short]} back failed: "
                                      f"{undo.message}") from undo
            raise BackupError(f"{failed}: {exc.message}; its data is as it was") from exc
        for short in swapped:
            try:
                step("commit", short, 600.0)
            except DockyardError as exc:
                self.report(f"warning: the old data of volume {live[short]} is left in .dockyard-old-{restore_id}/ "
                            f"inside it: {exc.message}")


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

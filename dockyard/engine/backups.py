"""The engine's side of backups (issue 16): a volume's files read and written through the Engine
API (a container that is created and never started mounts it, so any engine, local or remote,
serves), writers paused while they are read, a dump command's stdout, a restore command run in a
one-off container. The archives themselves are handled above (dockyard/backup).

Each function takes docker-py's client, containers by their ids, and says what failed as an
EngineError; DockerEngine's backup verbs (engine/client.py, VolumeEngine in engine/interface.py)
call them.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import docker.errors
import requests

from dockyard.engine.api import Client, DockerError
from dockyard.engine.facts import ReplicaFacts, replica_facts
from dockyard.engine.failures import engine_error
from dockyard.errors import EngineError

MOUNT_ROOT = "/dockyard-volumes"  # where the copying container mounts each volume, by its short name
EMPTY_IMAGE = "dockyard/empty:1"  # no files: the copying container only holds mounts, it never runs
HELPER = "dockyard.backup-helper"
CHUNK = 1024 * 1024


def _empty_tar() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w"):
        pass
    return buffer.getvalue()


def ensure_empty_image(client: Client) -> str:
    """An image with no files (imported from an empty tar): made once per engine, pulled from nowhere."""
    try:
        try:
            client.images.get(EMPTY_IMAGE)
        except docker.errors.ImageNotFound:
            repository, tag = EMPTY_IMAGE.split(":")
            client.api.import_image_from_data(_empty_tar(), repository=repository, tag=tag)
    except DockerError as exc:
        raise engine_error("making the empty image backups copy volumes with", exc) from exc
    return EMPTY_IMAGE


def users_of(client: Client, volume: str) -> list[ReplicaFacts]:
    """The containers (running or not) that mount the volume, helpers of ours left out."""
    try:
        found = client.containers.list(all=True, filters={"volume": volume}, ignore_removed=True)
    except DockerError as exc:
        raise engine_error(f"listing the containers of volume {volume}", exc) from exc
    return [replica_facts(c.attrs) for c in found if HELPER not in (c.labels or {})]


@contextmanager
def paused(client: Client, container_ids: list[str]) -> Iterator[None]:
    """The running ones frozen (their files stop changing) for the block, then thawed, whatever happens."""
    frozen: list[str] = []
    try:
        for container_id in container_ids:
            container = client.containers.get(container_id)  # its state now
            if container.status == "running":
                container.pause()
                frozen.append(container_id)
        yield
    except DockerError as exc:
        raise engine_error("pausing the volume's writers", exc) from exc
    finally:
        for container_id in frozen:
            try:
                client.api.unpause(container_id)
            except DockerError:
                pass  # gone meanwhile: nothing left to thaw


@contextmanager
def copier(client: Client, volumes: dict[str, str], labels: dict[str, str], read_only: bool) -> Iterator[str]:
    """A created (never started) container with each volume (full name -> short name) at
    MOUNT_ROOT/short, its id; removed after the block."""
    image = ensure_empty_image(client)
    binds = {full: {"bind": f"{MOUNT_ROOT}/{short}", "mode": "ro" if read_only else "rw"}
             for full, short in volumes.items()}
    try:
        container = client.containers.create(image, command=["/none"], volumes=binds, network_mode="none",
                                             labels={**labels, HELPER: "1"})
    except DockerError as exc:
        raise engine_error("creating the container that copies the volumes", exc) from exc
    try:
        yield container.id
    finally:
        try:
            container.remove(force=True)
        except DockerError:
            pass


def read_volumes(client: Client, copier_id: str) -> Iterator[bytes]:
    """The volumes mounted in the copier as one tar stream (members under dockyard-volumes/SHORT/...)."""
    try:
        stream, _ = client.api.get_archive(copier_id, MOUNT_ROOT, chunk_size=CHUNK)
        yield from stream
    except DockerError as exc:
        raise engine_error("reading the volumes", exc) from exc


def write_volumes(client: Client, copier_id: str, data: IO[bytes] | Iterable[bytes]) -> None:
    """Unpack a tar stream (as read_volumes gives) over the volumes mounted in the copier."""
    try:
        if not client.api.put_archive(copier_id, "/", data):
            raise EngineError("the engine refused the archive of the volumes")
    except DockerError as exc:
        raise engine_error("writing the volumes", exc) from exc


def exec_stdout(client: Client, container_id: str, name: str, argv: list[str]) -> Iterator[bytes]:
    """Run argv in the running container (`name` in messages) and yield its stdout; a non-zero exit
    raises with its stderr."""
    api = client.api
    try:
        exec_id = api.exec_create(container_id, argv, stdout=True, stderr=True)["Id"]
        errors = bytearray()
        for out, err in api.exec_start(exec_id, stream=True, demux=True):
            if err:
                errors += err[-4096:]
            if out:
                yield out
        code = api.exec_inspect(exec_id).get("ExitCode")
    except DockerError as exc:
        raise engine_error(f"running {argv[0]} in {name}", exc) from exc
    if code != 0:
        raise EngineError(f"{' '.join(argv)} in {name} exited {code}: "
                          f"{bytes(errors).decode(errors='replace').strip()[-500:]}")


def run_once(client: Client, image: str, argv: list[str], volumes: dict[str, str], user: str,
             files: IO[bytes], environment: dict[str, str], labels: dict[str, str], timeout: float) -> None:
    """Run argv in a one-off container of `image` with the volumes (full name -> path) mounted and
    the tar `files` unpacked at / first; its exit must be 0 (else its output is in the error)."""
    binds = {full: {"bind": path, "mode": "rw"} for full, path in volumes.items()}
    try:
        container = client.containers.create(image, command=argv, volumes=binds, user=user,
                                             environment=environment, network_mode="none",
                                             labels={**labels, HELPER: "1"},
                                             security_opt=["no-new-privileges:true"])
    except DockerError as exc:
        raise engine_error(f"creating the container that runs {argv[0]}", exc) from exc
    try:
        if not container.put_archive("/", files):
            raise EngineError("the engine refused the dump")
        container.start()
        try:
            result: dict[str, Any] = container.wait(timeout=timeout)
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError) as exc:
            container.kill()  # docker-py's wait gives up with requests' timeout, not a DockerError
            output = container.logs(tail=20).decode(errors="replace").strip()
            raise EngineError(f"{' '.join(argv)} did not end within {timeout:.0f} s and was stopped: "
                              f"{output[-800:]}") from exc
        code = result.get("StatusCode")
        if code != 0:
            output = container.logs(tail=20).decode(errors="replace").strip()
            raise EngineError(f"{' '.join(argv)} exited {code}: {output[-800:]}")
    except DockerError as exc:
        raise engine_error(f"running {' '.join(argv)}", exc) from exc
    finally:
        try:
            container.remove(force=True)
        except DockerError:
            pass


def volume_exists(client: Client, name: str) -> bool:
    try:
        client.volumes.get(name)
    except docker.errors.NotFound:
        return False
    except DockerError as exc:
        raise engine_error(f"looking up volume {name}", exc) from exc
    return True


# ---- the same archives, read and written on the host's file system (a local engine, as root):
# the Engine API's archive endpoints move about 250 MB/s here, GNU tar on the directory several
# times that. Member names are the same either way (dockyard-volumes/SHORT/...).


def host_mountpoints(client: Client, local: bool, volumes: dict[str, str]) -> dict[str, Path] | None:
    """short name -> the directory of each (full name -> short) volume on this host, when the engine
    runs here (`local`) with the local driver and its directories can be read and written; else None.
    A volume with driver options (type=nfs, tmpfs, a device) has its data mounted there only while a
    container uses it: it goes through the Engine API."""
    if not local or os.geteuid() != 0 or shutil.which("tar") is None:
        return None
    found: dict[str, Path] = {}
    for full, short in volumes.items():
        try:
            attrs = client.api.inspect_volume(full)
        except DockerError as exc:
            raise engine_error(f"looking up volume {full}", exc) from exc
        mountpoint = Path(attrs.get("Mountpoint") or "/nonexistent")
        if attrs.get("Driver") != "local" or attrs.get("Options") or not mountpoint.is_dir() \
                or "," in str(mountpoint):
            return None
        found[short] = mountpoint
    return found


def _literal(text: str) -> str:
    """`text` as a literal in tar's (sed's basic) regular expressions."""
    return re.sub(r"([.\[\]*^$\\])", r"\\\1", text)


def tar_directories(mounts: dict[str, Path]) -> Iterator[bytes]:
    """GNU tar of the directories, named dockyard-volumes/SHORT/... (symlink targets left as they are)."""
    argv = ["tar", "-C", "/", "-cf", "-", "--numeric-owner"]
    argv += [f"--transform=flags=rhS;s,^{_literal(str(m).lstrip('/'))},{MOUNT_ROOT.lstrip('/')}/{short},"
             for short, m in mounts.items()]
    argv += [str(m).lstrip("/") for m in mounts.values()]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as tar:
        assert tar.stdout is not None
        while block := tar.stdout.read(CHUNK):
            yield block
        errors = tar.stderr.read() if tar.stderr else b""
    if tar.returncode != 0:
        raise EngineError(f"tar of {', '.join(map(str, mounts.values()))} failed: "
                          f"{errors.decode(errors='replace')[-500:]}")


def untar_directory(stream: IO[bytes], short: str, mountpoint: Path) -> None:
    """Unpack dockyard-volumes/SHORT/... of the tar stream into the directory (owners, modes and the
    directory's own attributes as archived). GNU tar skips member names with '..' and makes links
    only once the files are out, so an archive cannot write outside it."""
    member = f"{MOUNT_ROOT.lstrip('/')}/{short}"
    argv = ["tar", "-C", str(mountpoint), "-xf", "-", "--numeric-owner", "--same-permissions",
            f"--transform=flags=rhS;s,^{_literal(member)},.,", member]
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as tar:
        assert tar.stdin is not None
        try:
            while block := stream.read(CHUNK):
                tar.stdin.write(block)
            tar.stdin.close()
        except BrokenPipeError:
            pass  # tar stopped: its status and message say why
        errors = tar.stderr.read() if tar.stderr else b""
    if tar.returncode != 0:
        raise EngineError(f"unpacking volume {short} into {mountpoint} failed: "
                          f"{errors.decode(errors='replace')[-500:]}")

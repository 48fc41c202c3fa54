"""Secrets delivered as files on tmpfs: never in env, argv, image layers or `docker inspect`.

Each container gets its own directory on a host tmpfs, bind-mounted read-only at /run/secrets.
`docker inspect` shows only the directory's path. Files are readable by the container's user
alone. This needs the engine to share our filesystem (a local or same-host engine).
"""

from __future__ import annotations

import os
import secrets as pysecrets
import shutil
import subprocess
from pathlib import Path

from dockyard.errors import DeployError


def secrets_root() -> Path:
    return Path(os.environ.get("DOCKYARD_RUN", "/run/dockyard")) / "secrets"


def fs_type(mounts_text: str, path: Path) -> str | None:
    """The filesystem type of the mount holding `path`, from /proc/mounts text (pure)."""
    best, best_type = "", None
    target = str(path)
    for line in mounts_text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        mountpoint = parts[1].replace("\\040", " ")
        inside = target == mountpoint or target.startswith(mountpoint.rstrip("/") + "/")
        if inside and len(mountpoint) >= len(best):
            best, best_type = mountpoint, parts[2]
    return best_type


def ensure_tmpfs(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    if fs_type(Path("/proc/mounts").read_text(), root) == "tmpfs":
        return
    if os.geteuid() != 0:
        raise DeployError(f"{root} is not on tmpfs, so secrets would touch the disk",
                          hint=f"as root: mount -t tmpfs -o mode=0711,size=16m tmpfs {root}")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0711,size=16m", "tmpfs", str(root)], check=True)


def _owner(user: str) -> tuple[int, int] | None:
    uid, _, gid = user.partition(":")
    if uid.isdigit() and (not gid or gid.isdigit()):
        return int(uid), int(gid or uid)
    return None


def write_secret_files(values: dict[str, str], user: str, files: dict[str, bytes] | None = None
                       ) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Write one file per secret into a fresh directory, and each secret-bearing config file under
    its `.files/` (to be bind-mounted at the file's own path); return the directory's path and the
    (host path, target path) of each file."""
    root = secrets_root()
    ensure_tmpfs(root)
    directory = root / pysecrets.token_hex(8)
    directory.mkdir(mode=0o700)
    owner = _owner(user)
    contents = {key: value.encode() for key, value in values.items()}
    mounts: list[tuple[str, str]] = []
    if files:
        (directory / ".files").mkdir(mode=0o700)
        for index, (target, data) in enumerate(sorted(files.items())):
            contents[f".files/{index}"] = data
            mounts.append((str(directory / ".files" / str(index)), target))
    for key, data in contents.items():
        path = directory / key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if owner:
            os.chown(path, *owner)
        else:  # a named user we cannot map to a uid here: readable inside, the parent stays 0711
            os.chmod(path, 0o444)
    if files:
        if owner:
            os.chown(directory / ".files", *owner)
        os.chmod(directory / ".files", 0o500 if owner else 0o555)
    if owner:
        os.chown(directory, *owner)
        os.chmod(directory, 0o500)
    else:
        os.chmod(directory, 0o555)
    return str(directory), tuple(mounts)


def remove_secret_files(directory: str | None) -> None:
    if directory and Path(directory).parent == secrets_root():
        shutil.rmtree(directory, ignore_errors=True)

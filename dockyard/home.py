"""Dockyard's home and its private files: standard library only (shared vocabulary).

settings.py re-exports these; they live apart so that what must run before anything else (the
server's pid file before it listens, issue 30) does not load the settings' models (pydantic).
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """Dockyard's home, 0700: it holds the state, the config store and the settings (secrets)."""
    raw = os.environ.get("DOCKYARD_HOME") or "~/.local/share/dockyard"
    path = Path(raw).expanduser()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
            path.chmod(0o700)
    except OSError:
        pass  # not ours to change: the files inside are still made 0600
    return path


PRIVATE_UMASK = 0o077  # for programs that write under DOCKYARD_HOME themselves (git, nginx, HAProxy)


def private_dir(path: Path) -> Path:
    """`path` and every missing folder above it made 0700 (mkdir's `mode` applies to the last one
    only); an existing one of ours that others can read is tightened, as older versions left them."""
    missing = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass  # made by another process meanwhile
    try:
        info = path.stat()
        if info.st_mode & 0o077 and info.st_uid == os.getuid():
            path.chmod(0o700)
    except OSError:
        pass
    return path


def write_private(path: Path, text: str) -> None:
    """Write a small file 0600 from its first byte (pid files, markers, configurations)."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT
        fh.write(text)


def replace_private(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all (a temp file, fsync, rename), 0600 from its creation: what a
    reader must never see half-written (a certificate's key, the edge's routes)."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def private_file(path: Path) -> None:
    """Create `path` (if missing) as 0600 before a library opens it, and tighten an existing one:
    SQLite makes its -wal and -shm files with the database file's mode. An existing file is never
    opened here: closing a second descriptor of a SQLite file drops this process's locks on it."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError:
        return  # the open that follows reports a real problem with its own message
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError:
        pass


def author() -> str:
    """Who releases and config changes are recorded as: DOCKYARD_USER, else the login name.
    (The audit log records the OS user beside it: dockyard/state/audit.py.)"""
    import getpass

    try:
        return os.environ.get("DOCKYARD_USER") or getpass.getuser()
    except (OSError, KeyError):  # no login name (e.g. a container with an unknown uid)
        return "unknown"

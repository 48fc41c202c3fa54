"""What both halves of the site's settings build on, loading nothing heavy: Dockyard's home, its
private files, and the settings of a registered engine and of the backup store (plain dataclasses).

settings.py reads the settings file (through its checked copy) and settings_model.py holds
pydantic's models of it; both import this module, neither imports the other's way back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class EngineSettings:
    """A registered engine. A plain dataclass: Settings validates it with pydantic (extra keys
    refused), and a read command makes it from the checked copy without pydantic."""

    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}

    host: str  # unix:///var/run/docker.sock or tcp://HOST:2376
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    swarm: bool = False  # a Swarm manager: environments on it deploy Swarm services (dockyard/swarm)
    publish_network: str | None = None  # swarm-scoped bridge network whose per-node config sets the bind IP
    # Host folders an app's dockyard.yml may bind-mount (binds:), with everything under them; none by default
    bind_paths: list[str] = field(default_factory=list)


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


@dataclass(frozen=True)
class BackupSettings:
    """Where backups are kept (dockyard backup store): a folder (file:///var/backups/dockyard) or
    an S3-compatible bucket (s3://BUCKET/PREFIX at `s3_endpoint`, or AWS's own without one). The
    bucket's keys are read from `s3_credentials_file` (0600, `access_key_id=...` and
    `secret_access_key=...` lines), else from boto3's own chain (AWS_* variables, ~/.aws): never
    from this file, argv or dockyard.yml."""

    __pydantic_config__: ClassVar[dict[str, Any]] = {"extra": "forbid"}

    store: str | None = None  # default: file://$DOCKYARD_HOME/backups
    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"
    s3_credentials_file: str | None = None


# Where an edge listens unless the operator says otherwise (EdgeSettings): this host only
EDGE_ADDRESS, EDGE_HTTP_PORT, EDGE_HTTPS_PORT = "127.0.0.1", 80, 443

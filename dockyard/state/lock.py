"""One deploy at a time per app and environment.

An flock on a file under $DOCKYARD_HOME: the kernel drops it when the holder dies, so a
crashed deploy never holds the environment forever.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from dockyard import settings
from dockyard.errors import DeployError


@contextmanager
def env_lock(app: str, env: str, wait: bool = False) -> Iterator[None]:
    directory = settings.home() / "locks"
    directory.mkdir(exist_ok=True)
    path = directory / f"{app}-{env}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise DeployError(f"{app}/{env} is being deployed by {holder}; try again when it ends") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)

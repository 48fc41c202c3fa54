"""One deploy at a time per app and environment.

An flock on a file under $DOCKYARD_HOME: the kernel drops it when the holder dies, so a
crashed deploy never holds the environment forever. The balancer watch takes it for a few
milliseconds each round, so a deploy that finds it held tries again for up to CONTENDED seconds
before it says the environment is busy.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from dockyard import settings
from dockyard.errors import DeployError

CONTENDED = 2.0  # seconds: longer than any watch round, far shorter than any deploy


@contextmanager
def env_lock(app: str, env: str, wait: bool = False, contended: float = CONTENDED) -> Iterator[None]:
    """Hold the environment; `wait`: as long as it takes, else `contended` seconds at most."""
    directory = settings.private_dir(settings.home() / "locks")
    path = directory / f"{app}_{env}.lock"  # "_" is in no name: app a-b env c never waits for app a env b-c
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + contended
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
                break
            except BlockingIOError as exc:
                if time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
                raise DeployError(f"{app}/{env} is being deployed by {holder}; try again when it ends") from exc
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)

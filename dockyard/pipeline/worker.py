"""The pipeline worker: takes queued runs one at a time and executes them.

It runs inside `dockyard server`, or detached (`dockyard pipeline work`) when a git hook fires
and no server is up. An flock makes it the only worker of this DOCKYARD_HOME; a heartbeat
thread lets the next worker see that a run's owner died (kill -9) and take the run up again.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dockyard import settings
from dockyard.config.service import open_config_service
from dockyard.pipeline.runner import RunExecutor
from dockyard.pipeline.store import RunStore
from dockyard.state.db import StateDB

HEARTBEAT_EVERY = 2.0
log = logging.getLogger(__name__)


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def worker_lock(wait: bool) -> Iterator[bool]:
    """Hold the single-worker lock; yields False when another worker has it and wait is False."""
    fd = os.open(settings.home() / "worker.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


class Worker:
    def __init__(self) -> None:
        self.db = StateDB()
        self.store = RunStore(self.db)
        self.owner = owner_id()

    def _beat(self, run_id: int, done: threading.Event) -> None:
        db = StateDB()  # sqlite connections are per thread
        try:
            while not done.wait(HEARTBEAT_EVERY):
                RunStore(db).heartbeat(run_id, self.owner)
        finally:
            db.close()

    def run_once(self) -> bool:
        """Execute the next queued run, if any; True when one was taken."""
        run = self.store.claim_next(self.owner)
        if run is None:
            return False
        done = threading.Event()
        beat = threading.Thread(target=self._beat, args=(run.id, done), daemon=True)
        beat.start()
        executor = RunExecutor(self.store, self.db, open_config_service,
                               heartbeat=lambda: self.store.heartbeat(run.id, self.owner))
        try:
            executor.execute(run)
        except Exception as exc:  # a bug must not leave a run "running" behind a live worker, nor stop it
            log.exception("run %s failed with an internal error", run.id)
            self.store.finish_run(run.id, "interrupted", f"internal error: {type(exc).__name__}: {exc}")
        finally:
            done.set()
            executor.close()
        return True

    # Both loops run under worker_lock: a run still marked running belongs to a dead worker.
    def run_until_idle(self) -> None:
        self.store.recover(stale_after=0)
        while self.run_once():
            pass

    def run_forever(self, stop: threading.Event, poll: float = 0.5) -> None:
        while not stop.is_set():
            self.store.recover(stale_after=0)
            if not self.run_once():
                stop.wait(poll)


def server_alive() -> bool:
    pid_file = settings.home() / "server.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
        return True
    except (OSError, ValueError, IndexError):
        return False


def ensure_worker() -> None:
    """A run was queued: make sure something executes it (the server, or a detached worker)."""
    if server_alive():
        return
    log = os.fdopen(os.open(settings.home() / "worker.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
    subprocess.Popen([sys.executable, "-m", "dockyard.cli.main", "pipeline", "work"], stdin=subprocess.DEVNULL,
                     stdout=log, stderr=log, start_new_session=True, close_fds=True)

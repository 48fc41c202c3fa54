"""The pipeline workers: one run at a time per app, runs of up to APPS_AT_ONCE apps at once.

They run inside `dockyard server`, or detached (`dockyard pipeline work`) when a git hook fires
and no server is up. An flock per app makes one thread, of one process, the only worker of that
app's runs: they go one after another, in order, as gates and supersedes expect, while one app's
long build never holds up another app's run. A heartbeat thread lets the next worker see that a
run's owner died (kill -9) and take the run up again.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dockyard import settings
from dockyard.config.service import open_config_service
from dockyard.pipeline.runner import RunExecutor
from dockyard.pipeline.store import RunStore
from dockyard.state.db import StateDB

HEARTBEAT_EVERY = 2.0
APPS_AT_ONCE = 4  # apps whose runs execute side by side in one worker process (each app's one by one)
PRUNE_EVERY = 3600.0  # seconds between two passes over the full logs kept (pipeline/output.py)
log = logging.getLogger(__name__)


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _lock_path(app: str) -> str:
    folder = settings.private_dir(settings.home() / "locks")
    return str(folder / f"pipeline-{re.sub(r'[^A-Za-z0-9_.-]', '_', app)}.lock")


def try_app_lock(app: str, wait: bool = False) -> int | None:
    """The descriptor holding the app's worker lock (close it to let go), or None when another worker
    has it and `wait` is False."""
    fd = os.open(_lock_path(app), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextmanager
def app_lock(app: str, wait: bool) -> Iterator[bool]:
    """Hold the app's worker lock; yields False when another worker has it and wait is False."""
    fd = try_app_lock(app, wait)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


class Worker:
    """Executes the queued runs of one app; only while holding that app's lock."""

    def __init__(self, app: str) -> None:
        self.app = app
        self.db = StateDB()
        self.store = RunStore(self.db)
        self.owner = owner_id()

    def _beat(self, run_id: int, done: threading.Event) -> None:
        db = StateDB()  # a connection of its own: the run's is busy with the run
        try:
            while not done.wait(HEARTBEAT_EVERY):
                RunStore(db).heartbeat(run_id, self.owner)
        finally:
            db.close()

    def run_once(self) -> bool:
        """Execute the app's next queued run, if any; True when one was taken."""
        run = self.store.claim_next(self.owner, self.app)
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

    def recover(self) -> None:
        """Under the app's lock, a run of it still marked running belongs to a dead worker."""
        self.store.recover(stale_after=0, app=self.app)

    def run_until_idle(self) -> None:
        self.recover()
        while self.run_once():
            pass

    def close(self) -> None:
        self.db.close()


class Pool:
    """A thread per app with a queued run, up to `size` at once; each takes the app's lock, executes
    one run, and lets go: the app whose run waited longest is served next."""

    def __init__(self, size: int = APPS_AT_ONCE, worker: Callable[[str], Worker] = Worker) -> None:
        self.size = size
        self.worker = worker
        self.db = StateDB()
        self.store = RunStore(self.db)
        self._busy: dict[str, threading.Thread] = {}  # app -> the thread executing its run
        self._guard = threading.Lock()  # _busy, which ending threads take themselves off
        self._ended = threading.Event()
        self._pruned = 0.0

    def dispatch(self) -> int:
        """Start a thread for each app that waits and has none, while there is room; how many run."""
        for app in self.store.pending_apps():
            with self._guard:
                if len(self._busy) >= self.size:
                    break
                if app in self._busy:
                    continue
                fd = try_app_lock(app)
                if fd is None:
                    continue  # another process works on this app; it looks again once it lets go
                thread = threading.Thread(target=self._turn, args=(app, fd), name=f"pipeline-{app}", daemon=True)
                self._busy[app] = thread
            thread.start()
        with self._guard:
            return len(self._busy)

    def _turn(self, app: str, fd: int) -> None:
        try:
            worker = self.worker(app)
            try:
                worker.recover()
                worker.run_once()
            finally:
                worker.close()
        except Exception:  # the state store went away, a bug: the next dispatch tries again
            log.exception("pipeline worker of %s failed", app)
        finally:
            os.close(fd)
            with self._guard:
                del self._busy[app]
            self._ended.set()

    def _prune(self) -> None:
        if time.monotonic() - self._pruned > PRUNE_EVERY:
            self._pruned = time.monotonic()
            self.store.output.prune()

    def run_until_idle(self) -> None:
        """Until no app has a run this process can take, and none of its threads runs."""
        self._prune()
        while self.dispatch():
            self._ended.wait(1.0)
            self._ended.clear()

    def run_forever(self, stop: threading.Event, poll: float = 0.5) -> None:
        """Until `stop`; then wait for the runs executing (a server stopping gives them STOP_WAIT)."""
        try:
            while not stop.is_set():
                self._prune()
                self.dispatch()
                self._ended.wait(poll)
                self._ended.clear()
        finally:
            with self._guard:
                running = list(self._busy.values())
            for thread in running:
                thread.join()

    def close(self) -> None:
        self.db.close()


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

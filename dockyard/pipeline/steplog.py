"""The runner's step output, written in batches: a line reaches the state database at most
FLUSH_EVERY seconds after it was printed, in one transaction with the lines printed beside it.

A build can print 300,000 lines, one at a time; a transaction each cost more than the build.
The batches are written by a thread of their own on a connection of their own, so neither the
build's stream nor another thread's transaction on the run's connection waits for them.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from dockyard.pipeline.store import RunStore
from dockyard.state.db import StateDB

FLUSH_EVERY = 0.1  # seconds a line may wait to be written: what a follower of the step lags at most
PENDING_LIMIT = 4 * 1024 * 1024  # characters waiting: past it, the printer writes them itself


class StepLog:
    """Buffered output of one run's steps; `flush()` before a step's status changes, `close()` at the end."""

    def __init__(self, db_path: Path, run_id: int) -> None:
        self.run_id = run_id
        self._db_path = db_path
        self._db: StateDB | None = None
        self._pending: list[tuple[int, str]] = []  # (step, text) in the order printed
        self._size = 0
        self._lock = threading.Lock()  # the pending list
        self._writing = threading.Lock()  # one batch at a time, in order
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=f"steplog-{run_id}", daemon=True)
        self._thread.start()

    def write(self, idx: int, text: str) -> None:
        with self._lock:
            self._pending.append((idx, text))
            self._size += len(text)
            full = self._size >= PENDING_LIMIT
        if full:
            self.flush()
        elif not self._wake.is_set():  # set once per batch: a loud build writes thousands of lines a second
            self._wake.set()

    def flush(self) -> None:
        with self._writing:
            with self._lock:
                batch, self._pending, self._size = self._pending, [], 0
            if not batch:
                return
            try:
                if self._db is None:
                    self._db = StateDB(self._db_path)
                RunStore(self._db).append_outputs(self.run_id, _by_step(batch))
            except BaseException:
                with self._lock:  # written with the next batch
                    self._pending[:0] = batch
                    self._size += sum(len(text) for _idx, text in batch)
                raise

    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait()
            time.sleep(FLUSH_EVERY)  # the lines printed meanwhile go in the same transaction
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the store is busy or gone: the next flush (or close) tries again
                continue

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(5)
        try:
            self.flush()
        finally:
            if self._db is not None:
                self._db.close()
                self._db = None


def _by_step(batch: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Consecutive texts of one step joined, each ended by a newline."""
    joined: list[tuple[int, list[str]]] = []
    for idx, text in batch:
        if not joined or joined[-1][0] != idx:
            joined.append((idx, []))
        joined[-1][1].append(text if text.endswith("\n") else text + "\n")
    return [(idx, "".join(parts)) for idx, parts in joined]

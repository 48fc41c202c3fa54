"""Disk use per container: its writable layer (overlay2 upper dir) and its log files.

The writable layer is measured as dockerd does for `docker ps --size` (every non-directory
entry's size, hard links once). Walking a tree costs, so a separate loop refreshes each
container at a slow cadence with a cap on entries per walk and a time budget per round.
"""

from __future__ import annotations

import glob
import os
import threading
import time
from collections.abc import Callable

from dockyard.monitor.collector import DiskUse
from dockyard.monitor.inventory import Tracked


def tree_size(path: str, max_entries: int = 200_000) -> int | None:
    """Sum of st_size of every non-directory under path, hard links counted once; None if too big/absent."""
    if not path or not os.path.isdir(path):
        return None
    total, seen, count = 0, set(), 0
    stack = [path]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                count += 1
                if count > max_entries:
                    return None
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_nlink > 1:
                    if st.st_ino in seen:
                        continue
                    seen.add(st.st_ino)
                total += st.st_size
    return total


def log_size(log_path: str) -> int | None:
    """The json-file log and its rotated siblings (NAME-json.log, .1, .2.gz ...)."""
    if not log_path:
        return None
    total, found = 0, False
    for path in glob.glob(glob.escape(log_path) + "*"):
        try:
            total += os.stat(path).st_size
            found = True
        except OSError:
            continue
    return total if found else None


def measure(item: Tracked, max_entries: int = 200_000) -> DiskUse:
    return DiskUse(rw_bytes=tree_size(item.upper_dir, max_entries), log_bytes=log_size(item.log_path),
                   at=time.time())


class DiskLoop:
    """Agent component: re-measures each container every `interval` seconds, oldest first.

    Each round stops after `budget_s` seconds of walking; the rest wait for the next round.
    """

    name = "disk"

    def __init__(self, containers: Callable[[], list[Tracked]], interval: float = 60.0,
                 budget_s: float = 0.5, max_entries: int = 200_000) -> None:
        self.containers = containers
        self.interval = interval
        self.budget_s = budget_s
        self.max_entries = max_entries
        self.results: dict[str, DiskUse] = {}
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="monitor-disk", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def snapshot(self) -> dict[str, DiskUse]:
        with self.lock:
            return dict(self.results)

    def round(self) -> int:
        """Measure the containers whose figure is older than `interval`, within the budget."""
        now = time.time()
        items = self.containers()
        live = {i.id for i in items}
        with self.lock:
            for cid in [c for c in self.results if c not in live]:
                del self.results[cid]
            due = sorted((i for i in items if now - self.results.get(i.id, DiskUse(None, None, 0)).at >= self.interval),
                         key=lambda i: self.results.get(i.id, DiskUse(None, None, 0)).at)
        done, start = 0, time.monotonic()
        for item in due:
            if time.monotonic() - start > self.budget_s or self._stop.is_set():
                break
            use = measure(item, self.max_entries)
            with self.lock:
                self.results[item.id] = use
            done += 1
        return done

    def _run(self) -> None:
        while not self._stop.is_set():
            self.round()
            self._stop.wait(min(5.0, self.interval))

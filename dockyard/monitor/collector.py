"""One sweep: every tracked container's cgroup and /proc/<pid>/net/dev files -> one Sample each.

CPU % comes from the delta between two sweeps (100 % = one core busy, as in `docker stats`).
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

from dockyard.engine import labels as L
from dockyard.monitor import cgroups
from dockyard.monitor.cgroups import FileSet, Gone, Layout
from dockyard.monitor.inventory import Tracked
from dockyard.monitor.model import Sample
from dockyard.monitor.procnet import net_bytes


def cpu_percent(prev_usage_ns: int, usage_ns: int, prev_t_ns: int, t_ns: int) -> float:
    """CPU use between two readings, in % of one core."""
    wall = t_ns - prev_t_ns
    if wall <= 0 or usage_ns < prev_usage_ns:
        return 0.0
    return round((usage_ns - prev_usage_ns) / wall * 100.0, 2)


@dataclass
class _Handle:
    pid: int
    files: FileSet
    net: FileSet
    prev_usage_ns: int = -1
    prev_t_ns: int = 0


@dataclass(frozen=True)
class DiskUse:
    rw_bytes: int | None
    log_bytes: int | None
    at: float = 0.0


class Collector:
    def __init__(self, layout: Layout | None = None, driver: str = "cgroupfs", proc_root: str = "/proc",
                 host: str | None = None) -> None:
        self.layout = layout or cgroups.detect_layout()
        self.driver = driver
        self.proc_root = proc_root
        self.host = host or socket.gethostname()
        self.handles: dict[str, _Handle] = {}

    def _dirs(self, item: Tracked) -> dict[str, str]:
        """From the main process's /proc/<pid>/cgroup (any driver); else the driver's naming rule."""
        try:
            found = cgroups.parse_proc_cgroup(cgroups.read_small(f"{self.proc_root}/{item.pid}/cgroup"))
            rel: str | dict[str, str] = found
            if all(path == "/" for path in found.values()):  # a private cgroup namespace shows only '/'
                rel = cgroups.relative_path(self.driver, item.id, item.cgroup_parent)
        except OSError:
            rel = cgroups.relative_path(self.driver, item.id, item.cgroup_parent)
        return cgroups.cgroup_dirs(self.layout, rel)

    def _handle(self, item: Tracked) -> _Handle:
        handle = self.handles.get(item.id)
        if handle is None or handle.pid != item.pid:
            if handle:
                handle.files.close()
                handle.net.close()
            handle = _Handle(pid=item.pid, files=FileSet(cgroups.files_for(self.layout, self._dirs(item))),
                             net=FileSet({"dev": f"{self.proc_root}/{item.pid}/net/dev"}))
            self.handles[item.id] = handle
        return handle

    def forget(self, keep: set[str]) -> None:
        for cid in [c for c in self.handles if c not in keep]:
            handle = self.handles.pop(cid)
            handle.files.close()
            handle.net.close()

    def sample(self, item: Tracked, now: float, disk: DiskUse | None = None) -> Sample:
        labels = item.labels
        s = Sample(id=item.id, name=item.name, app=labels.get(L.APP, ""), env=labels.get(L.ENV, ""),
                   service=labels.get(L.SERVICE, ""), restarts=item.restarts, oom_kills=item.oom_events, at=now)
        if disk is not None:
            s.disk_rw_bytes, s.disk_log_bytes = disk.rw_bytes, disk.log_bytes
            if disk.rw_bytes is not None or disk.log_bytes is not None:
                s.disk_bytes = (disk.rw_bytes or 0) + (disk.log_bytes or 0)
        if not item.running or item.pid <= 0:
            return self._down(s, item)
        handle = self._handle(item)
        try:
            usage, throttled, mem_usage, limit, inactive, ooms, read, written, pids = cgroups.read_figures(
                self.layout, handle.files)
            t_ns = time.monotonic_ns()
            s.net_rx_bytes, s.net_tx_bytes = net_bytes(handle.net.read("dev", required=True))
        except Gone:
            handle.files.close()
            handle.net.close()
            self.handles.pop(item.id, None)
            return self._down(s, item)
        if handle.prev_usage_ns >= 0:
            s.cpu_percent = cpu_percent(handle.prev_usage_ns, usage, handle.prev_t_ns, t_ns)
        handle.prev_usage_ns, handle.prev_t_ns = usage, t_ns
        s.cpu_seconds, s.cpu_throttled_seconds = usage / 1e9, throttled / 1e9
        s.memory_bytes, s.memory_usage_bytes, s.memory_limit_bytes = max(0, mem_usage - inactive), mem_usage, limit
        s.oom_kills = max(item.oom_events, ooms)
        s.blkio_read_bytes, s.blkio_write_bytes, s.pids = read, written, pids
        return s

    @staticmethod
    def _down(s: Sample, item: Tracked) -> Sample:
        s.up = False
        s.state = "down" if item.exit_code is None else f"exited ({item.exit_code})"
        return s

    def sweep(self, items: list[Tracked], disk: dict[str, DiskUse] | None = None) -> list[Sample]:
        now = time.time()
        disk = disk or {}
        samples = [self.sample(item, now, disk.get(item.id)) for item in items]
        self.forget({s.id for s in samples if s.up})
        return samples

    def close(self) -> None:
        self.forget(set())


def process_cpu_seconds(pid: int | None = None) -> float:
    """utime + stime of a process (default: this one), from /proc/<pid>/stat."""
    fields = cgroups.read_small(f"/proc/{pid or os.getpid()}/stat").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

"""Where a container's cgroup files are, and reading them cheaply.

Paths come from the pure `cgroup_dirs` (driver + version + id, or the container's
/proc/<pid>/cgroup); reading keeps one descriptor per file and re-reads it with pread(),
so a sweep costs one system call per file instead of open/read/close.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from dockyard.monitor import cgroup_parse as P
from dockyard.monitor.model import CpuStats, IoStats, MemoryStats

V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "blkio", "pids")


class Gone(Exception):
    """The container's cgroup (or main process) no longer exists: it stopped."""


@dataclass(frozen=True)
class Layout:
    version: int  # 1 or 2
    root: str = "/sys/fs/cgroup"


def detect_layout(root: str = "/sys/fs/cgroup") -> Layout:
    return Layout(version=2 if os.path.exists(os.path.join(root, "cgroup.controllers")) else 1, root=root)


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup -> {controller: path}; the v2 entry ('0::/path') is keyed ''."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for name in parts[1].split(",") if parts[1] else [""]:
            out[name.removeprefix("name=")] = parts[2]
    return out


def relative_path(driver: str, container_id: str, parent: str = "") -> str:
    """The container's cgroup path inside each hierarchy, as dockerd names it for each driver."""
    if driver == "systemd":
        slice_ = parent or "system.slice"
        return f"/{slice_}/docker-{container_id}.scope"
    return f"{parent.rstrip('/') or '/docker'}/{container_id}"


def cgroup_dirs(layout: Layout, rel: str | dict[str, str]) -> dict[str, str]:
    """{controller: absolute directory}; v2 has one directory keyed ''.

    `rel` is one path for every hierarchy, or the per-controller map of /proc/<pid>/cgroup.
    """
    def pick(controller: str) -> str:
        return rel if isinstance(rel, str) else rel.get(controller, rel.get("", "/"))

    if layout.version == 2:
        return {"": os.path.join(layout.root, pick("").lstrip("/"))}
    return {c: os.path.join(layout.root, c, pick(c).lstrip("/")) for c in V1_CONTROLLERS}


def files_for(layout: Layout, dirs: dict[str, str]) -> dict[str, str]:
    """The files one sweep reads, by key."""
    if layout.version == 2:
        d = dirs[""]
        names = ("cpu.stat", "memory.current", "memory.max", "memory.stat", "memory.events", "io.stat",
                 "pids.current")
        return {name: os.path.join(d, name) for name in names}
    return {
        "cpuacct.usage": os.path.join(dirs["cpuacct"], "cpuacct.usage"),
        "cpu.stat": os.path.join(dirs["cpu"], "cpu.stat"),
        "memory.usage_in_bytes": os.path.join(dirs["memory"], "memory.usage_in_bytes"),
        "memory.limit_in_bytes": os.path.join(dirs["memory"], "memory.limit_in_bytes"),
        "memory.stat": os.path.join(dirs["memory"], "memory.stat"),
        "memory.oom_control": os.path.join(dirs["memory"], "memory.oom_control"),
        "blkio": os.path.join(dirs["blkio"], "blkio.throttle.io_service_bytes_recursive"),
        "pids.current": os.path.join(dirs["pids"], "pids.current"),
    }


GONE_ERRNOS = (errno.ENODEV, errno.ENOENT, errno.ESRCH)


class FileSet:
    """Open-once, pread-many text files. A file missing at first open is skipped ('')."""

    def __init__(self, paths: dict[str, str]) -> None:
        self.paths = paths
        self.fds: dict[str, int] = {}
        self.missing: set[str] = set()

    def read(self, key: str, required: bool = False) -> str:
        fd = self.fds.get(key)
        if fd is None:
            if key in self.missing:
                return ""
            try:
                fd = os.open(self.paths[key], os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                if required:
                    raise Gone(f"{self.paths[key]}: {exc.strerror}") from exc
                self.missing.add(key)
                return ""
            self.fds[key] = fd
        try:
            return os.pread(fd, 65536, 0).decode()
        except OSError as exc:
            if exc.errno in GONE_ERRNOS:
                raise Gone(f"{self.paths[key]}: {exc.strerror}") from exc
            raise

    def read_all(self, keys: tuple[str, ...]) -> list[str]:
        """The texts of `keys`, the first one required (Gone without it), as `read` gives them."""
        fds, out = self.fds, []
        for key in keys:
            fd = fds.get(key)
            if fd is None:
                out.append(self.read(key, required=key == keys[0]))
                continue
            try:
                out.append(os.pread(fd, 65536, 0).decode())
            except OSError as exc:
                if exc.errno in GONE_ERRNOS:
                    raise Gone(f"{self.paths[key]}: {exc.strerror}") from exc
                raise
        return out

    def close(self) -> None:
        for fd in self.fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds.clear()


@dataclass(frozen=True)
class Readings:
    cpu: CpuStats
    memory: MemoryStats
    io: IoStats
    pids: int


def read_cgroup(layout: Layout, files: FileSet) -> Readings:
    """One sweep of one container's cgroup files. Raises Gone when the cgroup was removed."""
    r = files.read
    if layout.version == 2:
        cpu = P.v2_cpu(r("cpu.stat", required=True))
        memory = P.v2_memory(r("memory.current"), r("memory.max"), r("memory.stat"), r("memory.events"))
        io = P.v2_io(r("io.stat"))
    else:
        cpu = P.v1_cpu(r("cpuacct.usage", required=True), r("cpu.stat"))
        memory = P.v1_memory(r("memory.usage_in_bytes"), r("memory.limit_in_bytes"), r("memory.stat"),
                             r("memory.oom_control"))
        io = P.v1_blkio(r("blkio"))
    pids_text = r("pids.current")
    return Readings(cpu=cpu, memory=memory, io=io, pids=P.parse_int(pids_text) if pids_text else 0)


def read_figures(layout: Layout, files: FileSet) -> P.Figures:
    """One sweep of one container's cgroup files as plain figures (cgroup_parse.Figures): what the
    collector publishes, in one pass. Raises Gone when the cgroup was removed."""
    if layout.version == 2:
        return P.v2_figures(files.read_all(P.V2_FILES))
    return P.v1_figures(files.read_all(P.V1_FILES))


def read_small(path: str | Path) -> str:
    with open(path, "rb") as fh:
        return fh.read(65536).decode()

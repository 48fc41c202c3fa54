"""Facts about the nginx processes, from /proc: a query plus pure parsers.

After a graceful reload the master starts new workers and tells the old ones to finish their
requests and exit; their title then reads "worker process is shutting down". New workers mean
the new configuration is in effect; no shutting-down worker means the old one has drained.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    title: str


def parse_stat(text: str) -> tuple[int, int]:
    """(pid, ppid) from /proc/PID/stat; the command name in parentheses may hold spaces or ')'."""
    pid = int(text.split(" ", 1)[0])
    rest = text[text.rindex(")") + 2:].split()
    return pid, int(rest[1])


def parse_cmdline(raw: bytes) -> str:
    """nginx rewrites its argv into a title; NULs separate (or pad) the parts."""
    return " ".join(part for part in raw.decode(errors="replace").split("\0") if part).strip()


def read_proc(pid: int, proc: Path = PROC) -> Proc | None:
    try:
        _, ppid = parse_stat((proc / str(pid) / "stat").read_text())
        title = parse_cmdline((proc / str(pid) / "cmdline").read_bytes())
    except (OSError, ValueError, IndexError):
        return None
    return Proc(pid, ppid, title)


def children(parent: int, proc: Path = PROC) -> list[Proc]:
    """The kernel's list of a process's children when it keeps one, else a scan of /proc."""
    try:
        pids = [int(p) for p in (proc / str(parent) / "task" / str(parent) / "children").read_text().split()]
    except (OSError, ValueError):
        pids = [int(entry) for entry in os.listdir(proc) if entry.isdigit()]
    found = (read_proc(pid, proc) for pid in pids)
    return [info for info in found if info is not None and info.ppid == parent]


def is_master(info: Proc | None, conf: Path) -> bool:
    """The process is an nginx master started on this configuration file."""
    return info is not None and info.title.startswith("nginx: master process") and str(conf) in info.title


def workers(master: int, proc: Path = PROC) -> tuple[set[int], set[int]]:
    """(serving, shutting down) worker pids of one master."""
    serving, draining = set(), set()
    for child in children(master, proc):
        if "shutting down" in child.title:
            draining.add(child.pid)
        elif "worker process" in child.title:
            serving.add(child.pid)
    return serving, draining

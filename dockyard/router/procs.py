"""Facts about the nginx and HAProxy processes, from /proc: a query plus pure parsers.

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
    pgid: int = 0


def parse_stat(text: str) -> tuple[int, int]:
    """(pid, ppid) from /proc/PID/stat; the command name in parentheses may hold spaces or ')'."""
    pid = int(text.split(" ", 1)[0])
    rest = text[text.rindex(")") + 2:].split()
    return pid, int(rest[1])


def parse_pgid(text: str) -> int:
    """The process group from /proc/PID/stat (the field after ppid)."""
    return int(text[text.rindex(")") + 2:].split()[2])


def parse_cmdline(raw: bytes) -> str:
    """nginx rewrites its argv into a title; NULs separate (or pad) the parts."""
    return " ".join(part for part in raw.decode(errors="replace").split("\0") if part).strip()


def read_proc(pid: int, proc: Path = PROC) -> Proc | None:
    try:
        stat = (proc / str(pid) / "stat").read_text()
        _, ppid = parse_stat(stat)
        title = parse_cmdline((proc / str(pid) / "cmdline").read_bytes())
        return Proc(pid, ppid, title, parse_pgid(stat))
    except (OSError, ValueError, IndexError):
        return None


def is_alive(pid: int, proc: Path = PROC) -> bool:
    """A process that runs: a zombie (dead, not yet reaped by its parent) does not."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:][:1] not in ("Z", "X")


def all_pids(proc: Path = PROC) -> list[int]:
    return [int(entry) for entry in os.listdir(proc) if entry.isdigit()]


def orphans(master: int, proc: Path = PROC) -> list[Proc]:
    """The workers a dead master left: the processes of its process group (nginx's master leads a
    group of its own, and the kernel never gives a group's id to a new process while the group
    lives), confirmed to be nginx's. Nothing when the master still runs: then the group is its."""
    if is_alive(master, proc):
        return []
    found = (read_proc(pid, proc) for pid in all_pids(proc))
    return [p for p in found if p is not None and p.pgid == master and p.title.startswith("nginx: ")]


def parse_listeners(text: str) -> dict[int, int]:
    """/proc/net/tcp -> {port: socket inode} of the sockets listening on 127.0.0.1 or any address."""
    found = {}
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != "0A":  # 0A: LISTEN
            continue
        address, _, port = fields[1].partition(":")
        if address in ("0100007F", "00000000"):
            found[int(port, 16)] = int(fields[9])
    return found


def listening(ports: tuple[int, ...], proc: Path = PROC) -> set[int]:
    """Which of these 127.0.0.1 ports something listens on now."""
    try:
        return set(ports) & set(parse_listeners((proc / "net" / "tcp").read_text()))
    except OSError:
        return set()


def listening_sockets(ports: tuple[int, ...], proc: Path = PROC) -> set[str]:
    """The sockets ("socket:[INODE]", as /proc/PID/fd links read) listening on these ports, on any
    address (IPv4 or IPv6)."""
    found = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) >= 10 and fields[3] == "0A" and int(fields[1].rpartition(":")[2], 16) in ports:
                found.add(f"socket:[{fields[9]}]")
    return found


def holding(pid: int, sockets: set[str], proc: Path = PROC) -> set[str]:
    """Which of these sockets the process holds open."""
    held: set[str] = set()
    try:
        fds = os.listdir(proc / str(pid) / "fd")
    except OSError:
        return held
    for fd in fds:
        try:
            link = os.readlink(proc / str(pid) / "fd" / fd)
        except OSError:
            continue
        if link in sockets:
            held.add(link)
    return held


def listener_of(port: int, proc: Path = PROC) -> Proc | None:
    """The process that listens on 127.0.0.1:port (or on every address), if this host shows it."""
    try:
        inode = parse_listeners((proc / "net" / "tcp").read_text()).get(port)
    except OSError:
        return None
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in all_pids(proc):
        try:
            fds = os.listdir(proc / str(pid) / "fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(proc / str(pid) / "fd" / fd) == target:
                    return read_proc(pid, proc)
            except OSError:
                continue
    return None


def children(parent: int, proc: Path = PROC) -> list[Proc]:
    """The kernel's list of a process's children when it keeps one, else a scan of /proc."""
    try:
        pids = [int(p) for p in (proc / str(parent) / "task" / str(parent) / "children").read_text().split()]
    except (OSError, ValueError):
        pids = all_pids(proc)
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

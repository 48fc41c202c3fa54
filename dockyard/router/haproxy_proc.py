"""One HAProxy that Dockyard runs and supervises (the host's edge): its files under one prefix.

A new configuration is written beside the old one, checked with `haproxy -c`, and only then moved
over it (an atomic rename) and loaded by a seamless reload: a new process takes the listening
sockets from the running one over its admin socket (`-x`, so no connection is refused meanwhile)
and tells it to stop softly (`-sf`); the old one accepts nothing more, finishes what it holds, and
closes each idle kept-alive connection only after that connection's next response (`option
idle-close-on-response`), so no client loses a request to the reload.

Each process runs in the foreground of a session of its own, detached from whoever started it,
with stdout going to an access log of its own (EdgePaths.access_log) and stderr appended to the
error log: a reload is also how the access log is rotated.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from dockyard import settings
from dockyard.router import procs
from dockyard.router.edge_render import EdgePaths
from dockyard.router.nginx_proc import RouterError, held_ports, log_tail, send_signal, wait_until_drained

HAPROXY = os.environ.get("DOCKYARD_HAPROXY", "/usr/sbin/haproxy")
Report = Callable[[str], None]

# sh starts it in the background and prints its pid: the process is then nobody's child (no zombie
# in a long-running server), its files are 0600, and stdin is /dev/null.
LAUNCH = 'out="$1"; err="$2"; shift 2; umask 077; "$@" >>"$out" 2>>"$err" </dev/null & echo $!'


class HaproxyProcess:
    what = "haproxy"  # what it is, in messages
    port_hint = "free the port"

    def __init__(self, paths: EdgePaths, name: str, binary: str = HAPROXY,
                 report: Report = lambda _line: None) -> None:
        self.paths = paths
        self.name = name  # who it serves, in messages
        self.binary = binary
        self.report = report

    def ports(self) -> tuple[int, ...]:
        """The ports its configuration may listen on: a start waits until it holds one of them."""
        return ()

    def _before_start(self) -> None:
        """What must happen before a first process starts (nothing here)."""

    # facts ---------------------------------------------------------------
    def _ours(self, info: procs.Proc | None) -> bool:
        """An HAProxy on our configuration file (its argv: binary -f CONF ...)."""
        if info is None:
            return False
        argv = info.title.split(" ")
        return Path(argv[0]).name == "haproxy" and argv[1:3] == ["-f", str(self.paths.conf)]

    def pid(self) -> int | None:
        """The process serving our configuration now (a stale pid file is ignored)."""
        try:
            pid = int(self.paths.pid.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if procs.is_alive(pid) and self._ours(procs.read_proc(pid)) else None

    def processes(self) -> set[int]:
        """Every live process on our configuration: the serving one and those still finishing what
        they held at a reload."""
        return {pid for pid in procs.all_pids() if self._ours(procs.read_proc(pid)) and procs.is_alive(pid)}

    def draining(self) -> bool:
        return bool(self.processes() - {self.pid()})

    # changes -------------------------------------------------------------
    def serve(self, text: str, wait: float = 10.0) -> float:
        """Serve the configuration `text`: check, replace, reload (or start). Seconds it took."""
        start = time.monotonic()
        try:
            before: str | None = self.paths.conf.read_text()
        except OSError:
            before = None
        self.install(text)
        try:
            self.reload(wait)
        except RouterError:
            if before is not None and self.pid() is not None:  # it serves the previous one: keep that on disk
                self.install(before)
            raise
        return time.monotonic() - start

    def reload(self, wait: float = 10.0) -> None:
        """A new process on the configuration on disk takes over from every running one."""
        self._start(self.processes(), wait)

    def ensure_running(self) -> bool:
        """Start it on its configuration on disk if it is not running. True if started."""
        if self.pid() is not None or not self.paths.conf.exists():
            return False
        self._check(self.paths.conf)
        self.reload()
        return True

    def restart_if_dead(self) -> bool:
        """Supervision: started again on its configuration on disk when it died. True if started."""
        return self.ensure_running()

    def wait_drained(self, timeout: float) -> bool:
        return wait_until_drained(self.draining, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Soft stop (SIGUSR1) of every process: each finishes what it holds; SIGTERM at `timeout`."""
        running = self.processes()
        for pid in running:
            send_signal(pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while any(procs.is_alive(pid) for pid in running) and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid in running:
            if procs.is_alive(pid) and self._ours(procs.read_proc(pid)):
                send_signal(pid, signal.SIGTERM)
        self.paths.pid.unlink(missing_ok=True)

    def runtime_change(self, line: str, timeout: float = 2.0) -> None:
        """One change by HAProxy's runtime API (`set map ...`), to the running process over its admin
        socket; RouterError when nothing answers there, or HAProxy refuses it."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(timeout)
                conn.connect(str(self.paths.admin))
                conn.sendall(line.encode() + b"\n")
                answer = b""
                while chunk := conn.recv(4096):
                    answer += chunk
        except OSError as exc:
            raise RouterError(f"{self.name}: its admin socket {self.paths.admin} did not answer: {exc}") from exc
        text = answer.decode(errors="replace").strip()
        if text:  # a change answers nothing; a refusal says why ("entry not found.")
            raise RouterError(f"{self.name}: HAProxy refused `{' '.join(line.split()[:2])}`: {text}")

    # internals -----------------------------------------------------------
    def install(self, text: str) -> None:
        settings.private_dir(self.paths.prefix)
        candidate = self.paths.conf.with_name(self.paths.conf.name + ".new")
        settings.write_private(candidate, text)
        try:
            self._check(candidate)
        except RouterError:
            candidate.unlink(missing_ok=True)
            raise
        with open(candidate, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(candidate, self.paths.conf)

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        try:
            # its logs and sockets are under DOCKYARD_HOME: the owner's alone
            return subprocess.run(argv, capture_output=True, text=True, timeout=30, start_new_session=True,
                                  umask=settings.PRIVATE_UMASK)
        except FileNotFoundError as exc:
            raise RouterError(f"HAProxy is not installed at {self.binary}",
                              hint="install Debian's haproxy (scripts/setup.sh does it)") from exc

    def _check(self, conf: Path) -> None:
        result = self._run(self.binary, "-c", "-q", "-f", str(conf))
        if result.returncode != 0:
            raise RouterError(f"{self.name}: HAProxy rejected the {self.what} configuration {conf}:\n"
                              f"{(result.stderr or result.stdout).strip()}",
                              hint=f"the running {self.what} keeps its previous configuration")

    def _start(self, old: set[int], wait: float) -> None:
        """Start a process on the configuration on disk; it takes over from `old` (their sockets,
        then a soft stop). Returns once it listens and none of `old` accepts any more."""
        if not os.access(self.binary, os.X_OK):
            raise RouterError(f"HAProxy is not installed at {self.binary}",
                              hint="install Debian's haproxy (scripts/setup.sh does it)")
        settings.private_dir(self.paths.logs)
        argv = [self.binary, "-f", str(self.paths.conf)]
        if old:
            argv += ["-x", str(self.paths.admin), "-sf", *(str(pid) for pid in sorted(old))]
        else:
            self._before_start()
        out = self.paths.access_log(time.time_ns())
        launched = self._run("/bin/sh", "-c", LAUNCH, "sh", str(out), str(self.paths.error_log), *argv)
        try:
            pid = int(launched.stdout.strip())
        except ValueError as exc:
            raise RouterError(f"{self.name}: HAProxy could not be started: {launched.stderr.strip()}") from exc
        deadline = time.monotonic() + wait
        while not self._took_over(pid, old):
            if not procs.is_alive(pid):
                raise RouterError(f"{self.name}: HAProxy did not start:\n{log_tail(self.paths.error_log)}"
                                  + self._held_ports(), hint=self.port_hint)
            if time.monotonic() >= deadline:
                send_signal(pid, signal.SIGTERM)
                raise RouterError(f"{self.name}: HAProxy (pid {pid}) did not take over within {wait:g}s:\n"
                                  f"{log_tail(self.paths.error_log)}")
            time.sleep(0.005)
        settings.write_private(self.paths.pid, f"{pid}\n")
        if not old:
            self.report(f"started the {self.what} (haproxy pid {pid}) from {self.paths.conf}")

    def _took_over(self, pid: int, old: set[int]) -> bool:
        """The new process holds a listening socket of ours and no old one still does."""
        sockets = procs.listening_sockets(self.ports())
        return bool(sockets) and bool(procs.holding(pid, sockets)) and \
            not any(procs.holding(before, sockets) for before in old)

    def _held_ports(self) -> str:
        return held_ports(self.ports())

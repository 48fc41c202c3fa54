"""One nginx master that Dockyard runs and supervises, whatever it serves (an environment's
balancer, the host's edge): its files under one prefix (nginx.conf, nginx.pid, error.log, temp/).

A new configuration is written to a temp file, checked with `nginx -t`, and only then moved over
nginx.conf (an atomic rename) and loaded with a graceful reload (SIGHUP to the master): new
workers take new connections while the old ones finish the requests they hold. It is never left
without a valid configuration; a bad one never replaces the good one on disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dockyard import settings
from dockyard.errors import DockyardError
from dockyard.router import procs
from dockyard.router.render import RouterPaths

NGINX = os.environ.get("DOCKYARD_NGINX", "/usr/sbin/nginx")
Report = Callable[[str], None]


class RouterError(DockyardError):
    """A balancer or the edge could not be configured, started or reloaded."""


def log_tail(path: Path, lines: int = 5) -> str:
    """The last lines of an error log, for a message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no error log)"


class NginxProcess:
    what = "nginx"  # what it is, in messages: "balancer", "edge"
    port_hint = "free the port"

    def __init__(self, paths: RouterPaths, name: str, binary: str = NGINX,
                 report: Report = lambda _line: None) -> None:
        self.paths = paths
        self.name = name  # who it serves, in messages: "shop/production", "edge"
        self.binary = binary
        self.report = report

    def ports(self) -> tuple[int, ...]:
        """The ports its configuration listens on (to tell who holds them, and when orphans let go)."""
        return ()

    # facts ---------------------------------------------------------------
    def pid(self) -> int | None:
        """The master's pid when it runs on our configuration (a stale pid file is ignored)."""
        try:
            pid = int(self.paths.pid.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if procs.is_master(procs.read_proc(pid), self.paths.conf) else None

    def draining(self) -> bool:
        pid = self.pid()
        return bool(pid and procs.workers(pid)[1])

    # changes -------------------------------------------------------------
    def serve(self, text: str, wait: float = 5.0) -> float:
        """Serve the configuration `text`: check, replace, reload (or start). Seconds it took."""
        start = time.monotonic()
        self.install(text)
        pid = self.pid()
        if pid is None:
            self._start()
        else:
            self._reload(pid, wait)
        return time.monotonic() - start

    def ensure_running(self) -> bool:
        """Start the balancer on its configuration on disk if it is not running. True if started."""
        if self.pid() is not None or not self.paths.conf.exists():
            return False
        self._test(self.paths.conf)
        self._start()
        return True

    def restart_if_dead(self) -> bool:
        """Supervision: a balancer whose master died is started again on its configuration on disk,
        after the workers the dead master left (they still hold the listening sockets) are ended.
        True when it was started."""
        if self.pid() is not None or not self.paths.conf.exists():
            return False
        self.end_orphans()
        return self.ensure_running()

    def end_orphans(self, grace: float = 10.0) -> list[int]:
        """End the workers of a dead master: those of the process group the pid file names, never a
        process found by its name. SIGQUIT makes each close its listening sockets at once (so a new
        master can bind them) and finish the requests it holds; one still there after `grace`
        seconds is killed."""
        try:
            master = int(self.paths.pid.read_text().strip())
        except (OSError, ValueError):
            return []
        left = procs.orphans(master)
        if not left:
            return []
        for orphan in left:
            send_signal(orphan.pid, signal.SIGQUIT)
        ports = self.ports()
        deadline = time.monotonic() + 1.0
        while procs.listening(ports) and time.monotonic() < deadline:
            time.sleep(0.002)
        if procs.listening(ports):  # they do not let go: no more waiting
            _kill_left(left)
        else:
            killer = threading.Timer(grace, _kill_left, args=(left,))
            killer.daemon = True  # a `balancers watch --once` need not wait for it
            killer.start()
        if left:
            self.report(f"ended {len(left)} worker(s) left by the dead nginx master {master}: "
                        f"{', '.join(str(o.pid) for o in left)}")
        return [o.pid for o in left]

    def wait_drained(self, timeout: float) -> bool:
        """Wait until no old worker still finishes requests; False if some still did at the timeout."""
        return wait_until_drained(self.draining, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (SIGQUIT): workers finish their requests first."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + timeout
        while procs.read_proc(pid) is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        if procs.read_proc(pid) is not None:
            os.kill(pid, signal.SIGTERM)

    # internals -----------------------------------------------------------
    def install(self, text: str) -> None:
        settings.private_dir(self.paths.prefix)
        settings.private_dir(self.paths.temp)
        candidate = self.paths.conf.with_name("nginx.conf.new")
        settings.write_private(candidate, text)
        try:
            self._test(candidate)
        except RouterError:
            candidate.unlink(missing_ok=True)
            raise
        with open(candidate, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(candidate, self.paths.conf)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [self.binary, "-p", str(self.paths.prefix), "-e", str(self.paths.error_log), *args]
        try:
            # its logs, pid file and temp folders are under DOCKYARD_HOME: the owner's alone
            return subprocess.run(argv, capture_output=True, text=True, timeout=30, umask=settings.PRIVATE_UMASK)
        except FileNotFoundError as exc:
            raise RouterError(f"nginx is not installed at {self.binary}",
                              hint="install Debian's nginx (scripts/setup.sh does it)") from exc

    def _test(self, conf: Path) -> None:
        result = self._run("-t", "-q", "-c", str(conf))
        if result.returncode != 0:
            raise RouterError(f"{self.name}: nginx rejected the {self.what} configuration {conf}:\n"
                              f"{(result.stderr or result.stdout).strip()}",
                              hint=f"the running {self.what} keeps its previous configuration")

    def _start(self) -> None:
        result = self._run("-c", str(self.paths.conf))
        if result.returncode != 0:
            raise RouterError(f"{self.name}: nginx did not start:\n{(result.stderr or '').strip()}"
                              + self._held_ports(), hint=self.port_hint)
        deadline = time.monotonic() + 5
        while (pid := self.pid()) is None or not procs.workers(pid)[0]:
            if time.monotonic() >= deadline:
                raise RouterError(f"{self.name}: nginx did not come up:\n{log_tail(self.paths.error_log)}")
            time.sleep(0.01)
        self.report(f"started the {self.what} (nginx pid {pid}) from {self.paths.conf}")

    def _held_ports(self) -> str:
        return held_ports(self.ports())

    def _reload(self, pid: int, wait: float) -> None:
        """SIGHUP, then wait until new workers run and every old one stopped accepting connections
        (the master tells them about 100 ms after starting the new ones): from then on every new
        connection gets the new configuration, and the old workers only finish what they hold."""
        before, _ = procs.workers(pid)
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + wait
        while True:
            serving, _ = procs.workers(pid)
            if serving - before and not serving & before:
                return
            if time.monotonic() >= deadline:
                raise RouterError(f"{self.name}: nginx (pid {pid}) did not load the new configuration "
                                  f"within {wait:g}s:\n{log_tail(self.paths.error_log)}")
            time.sleep(0.003)


def held_ports(ports: tuple[int, ...]) -> str:
    """Who holds these ports, named for an error message (a foreign process is never touched)."""
    lines = []
    for port in ports:
        holder = procs.listener_of(port)
        if holder is not None:
            lines.append(f"\n127.0.0.1:{port} is held by pid {holder.pid} ({holder.title[:80] or '?'})")
    return "".join(lines)


def wait_until_drained(draining: Callable[[], bool], timeout: float) -> bool:
    """Wait while `draining()`; False if it still was at the timeout."""
    deadline = time.monotonic() + timeout
    while draining():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _kill_left(orphans: list[procs.Proc]) -> None:
    for orphan in orphans:
        found = procs.read_proc(orphan.pid)
        if found is not None and found.pgid == orphan.pgid:  # the same process, not a reused pid
            send_signal(orphan.pid, signal.SIGKILL)


def send_signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass

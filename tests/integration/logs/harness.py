"""The log path's reliability run, shared by the integration test (small) and bench/logs.py (large).

Containers write numbered lines with json-file rotation; the forwarder runs as its own process
and is SIGKILLed and restarted; the store is locked (unavailable) for a while; at the end every
line must be in the store exactly once.
"""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import docker

from tests.ports import free_listen

IMAGE = "dockyard/busybox:1.35"
TEST_LABEL = "dockyard.test"
RUN_LABEL = "dockyard.test.run"
PAYLOAD = "the-quick-brown-fox-jumps-over-the-lazy-dog"


@dataclass
class Plan:
    containers: int = 10
    lines_each: int = 3000
    chunks: int = 10  # each container writes its lines in this many bursts ...
    pause: float = 0.6  # ... with this pause between them
    max_size: str = "100k"
    max_file: int = 5
    kills: int = 3
    kill_every: float = 1.5
    outage: float = 5.0
    outage_at: float = 2.0
    deadline: float = 60.0
    forwarder_args: tuple[str, ...] = ()  # e.g. ("--via-spool",)
    agent: bool = False  # run `dockyard agent` (metrics, events and the forwarder) instead of the forwarder

    @property
    def total(self) -> int:
        return self.containers * self.lines_each


@dataclass
class Outcome:
    expected: int
    stored: int
    distinct: int
    lost: int
    duplicated: int
    losses_recorded: list[str]
    kills: int
    outage_seconds: float
    seconds: float
    peak_rss_kb: int = 0
    notes: list[str] = field(default_factory=list)


def writer_command(name: str, plan: Plan) -> list[str]:
    per = plan.lines_each // plan.chunks
    script = (f'for b in $(seq 0 {plan.chunks - 1}); do '
              f'seq $((b*{per}+1)) $((b*{per}+{per})) | sed "s/.*/{name} & {PAYLOAD}/"; sleep {plan.pause}; done')
    return ["sh", "-c", script]


def wait_for_line(log: Path, text: str, count: int, timeout: float) -> None:
    """Until `text` is in the log `count` times (or the timeout: the caller's checks say what is wrong)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if log.read_text(errors="replace").count(text) >= count:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.05)


def start_writers(client: docker.DockerClient, run_id: str, plan: Plan) -> list:
    containers = []
    for i in range(plan.containers):
        name = f"w{i}"
        containers.append(client.containers.run(
            IMAGE, writer_command(name, plan), detach=True, name=f"logs-{run_id}-{name}",
            labels={TEST_LABEL: "logs", RUN_LABEL: run_id, "dockyard.app": f"logs{run_id}",
                    "dockyard.env": "testing", "dockyard.service": "writer", "dockyard.release": "r1"},
            log_config={"type": "json-file", "config": {"max-size": plan.max_size, "max-file": str(plan.max_file)}}))
    return containers


def remove_run(client: docker.DockerClient, run_id: str) -> None:
    for container in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}):
        container.remove(force=True)


def forwarder_argv(state: Path, run_id: str, extra: list[str] | None = None) -> list[str]:
    return [sys.executable, "-m", "dockyard.logs", "forwarder", "run", "--state", str(state),
            "--label", f"{RUN_LABEL}={run_id}", "--host", "testhost", *(extra or [])]


def agent_argv(run_id: str, listen: str) -> list[str]:
    return [str(Path(sys.executable).parent / "dockyard"), "agent", "--listen", listen,
            "--label", f"{RUN_LABEL}={run_id}", "--probe-interval", "1"]


class ForwarderProcess:
    """The forwarder (or the agent) as a separate process: started, SIGKILLed, restarted; peak RSS kept."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.log = log
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.peak_rss_kb = 0
        self.cpu_seconds = 0.0  # user + system time of every run so far

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=out, cwd=Path(__file__).parents[3],
                                         env=self.env, start_new_session=True)

    def _note_peak(self) -> None:
        """VmHWM: this process's own peak resident size, and its CPU time (read while it still exists)."""
        assert self.proc is not None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_rss_kb = max(self.peak_rss_kb, int(line.split()[1]))
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            self.cpu_seconds += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
        except (FileNotFoundError, ProcessLookupError):
            pass

    def kill(self) -> None:
        if self.proc is not None:
            self._note_peak()
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None:
            return
        self._note_peak()
        os.kill(self.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                return
            time.sleep(0.1)
        self.kill()


def hold_store_lock(store: Path, seconds: float, done: threading.Event) -> None:
    """Make the store unavailable: hold its write lock for `seconds`."""
    db = sqlite3.connect(store, timeout=30, isolation_level=None)
    db.execute("begin exclusive")
    done.wait(seconds)
    db.execute("commit")
    db.close()


def count_lines(store: Path, app: str) -> int:
    if not store.exists():
        return 0
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        return int(db.execute("select coalesce(sum(b.last - b.id + 1), 0) from blocks b join containers c "
                              "on c.id = b.c where c.app = ?", (app,)).fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def verify(store: Path, app: str, plan: Plan, payload: str = PAYLOAD) -> tuple[int, int, int, int]:
    """(stored, distinct, lost, duplicated) for the run's numbered lines."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute("select l.msg from lines l join containers c on c.id = l.c where c.app = ?",
                          (app,)).fetchall()
    finally:
        db.close()
    seen = Counter()
    for (msg,) in rows:
        parts = msg.split(" ")
        if len(parts) == 3 and parts[2] == payload:
            seen[(parts[0], int(parts[1]))] += 1
    expected = {(f"w{i}", n) for i in range(plan.containers) for n in range(1, plan.lines_each + 1)}
    distinct = len(set(seen) & expected)
    return len(rows), distinct, len(expected) - distinct, sum(seen.values()) - len(seen)


def run(client: docker.DockerClient, workdir: Path, plan: Plan, say=lambda s: None) -> Outcome:  # noqa: ANN001
    run_id = secrets.token_hex(4)
    app = f"logs{run_id}"
    if plan.agent:  # the agent keeps its forwarder's state in its home, like any other
        state = workdir / "home" / "logs"
        fwd = ForwarderProcess(agent_argv(run_id, free_listen()), workdir / "forwarder.log",
                               env={"DOCKYARD_HOME": str(workdir / "home")})
    else:
        state = workdir / "state"
        fwd = ForwarderProcess(forwarder_argv(state, run_id, list(plan.forwarder_args)), workdir / "forwarder.log")
    store = state / "store.db"
    t0 = time.monotonic()
    release = threading.Event()
    locker: threading.Thread | None = None
    kills = 0
    try:
        fwd.start()
        start_writers(client, run_id, plan)
        t0 = time.monotonic()  # the schedule counts from when every writer runs
        say(f"run {run_id}: {plan.containers} containers x {plan.lines_each} lines, forwarder pid {fwd.proc.pid}")
        kill_times = [plan.kill_every * (k + 1) for k in range(plan.kills)]
        outage_started = None
        while time.monotonic() - t0 < plan.deadline:
            elapsed = time.monotonic() - t0
            if kill_times and elapsed >= kill_times[0]:
                kill_times.pop(0)
                if plan.agent:  # each kill hits an agent that is up (its start takes ~1 s, more on a busy host)
                    wait_for_line(workdir / "forwarder.log", "dockyard agent on ", kills + 1, timeout=15.0)
                fwd.kill()
                kills += 1
                say(f"  {elapsed:5.1f}s SIGKILL #{kills}, restart")
                time.sleep(0.3)
                fwd.start()
            if locker is None and elapsed >= plan.outage_at and store.exists():
                locker = threading.Thread(target=hold_store_lock, args=(store, plan.outage, release), daemon=True)
                locker.start()
                outage_started = elapsed
                say(f"  {elapsed:5.1f}s store locked for {plan.outage:.0f}s")
            writers = client.containers.list(filters={"label": f"{RUN_LABEL}={run_id}"})
            if not writers and not kill_times and locker is not None and not locker.is_alive():
                if count_lines(store, app) >= plan.total:
                    break
            time.sleep(0.2)
        time.sleep(1.0)  # anything still in flight would show up as a duplicate now
        fwd.stop()
        stored, distinct, lost, dup = verify(store, app, plan)
        losses = []
        for db_path in (state / "spool.db", store):  # direct mode records losses in the store
            if db_path.exists():
                db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
                losses += [w for (w,) in db.execute("select what from losses")]
                db.close()
        return Outcome(plan.total, stored, distinct, lost, dup, losses, kills,
                       plan.outage if outage_started is not None else 0.0, time.monotonic() - t0, fwd.peak_rss_kb)
    finally:
        release.set()
        fwd.kill() if fwd.proc is not None else None
        remove_run(client, run_id)

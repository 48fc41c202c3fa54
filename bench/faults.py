"""Benchmark: faults injected into a live blue-green environment under a bounded load (issue 14).

A throwaway app (busybox httpd, two replicas) runs live behind its nginx balancer, with the
balancer watch running as `dockyard server` runs it. `dockyard agent` runs as its own process
(metrics, engine events, the log forwarder into its store), and a writer container prints about
200 numbered lines a second all along. 4 client threads on the live 127.0.0.1 port record every
request. Each fault is injected `--rounds` times; one row per fault:

- recovery: from the moment the cause is gone (the engine answers again; the nginx master, the
  agent or the replica was killed) to the first sign it is whole again (live answers with the live
  release; the agent answers; the replica answers on its own port), median and worst, and that
  worst as a ratio of the issue's target where it sets one (engine restart: 5 s after the engine
  answers; balancer crash: 2 s);
- the outage users saw: from the first failed request to the last one of a round, median;
- failed requests (no HTTP answer or 5xx) and wrong-release answers (a 200 from anything but the
  live release) over the whole fault window, load included. A client retries at once, so a failed
  count is about 4 threads x 100 a second of outage;
- log lines lost and duplicated: after each fault's rounds the writer's lines in the engine's own
  json-file log (the truth) are compared with the agent's store.

    .venv/bin/python bench/faults.py [--rounds 3]

It restarts this host's dockerd (SIGTERM, then scripts/setup.sh start): run it on a test machine.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
HOME = Path(tempfile.mkdtemp(prefix="dockyard-bench-faults-"))
os.environ.update(DOCKYARD_HOME=str(HOME / "home"), DOCKYARD_CONFIG_STORE=f"sqlite:///{HOME}/home/config.db",
                  DOCKYARD_SECRET_KEY_FILE=str(HOME / "keys" / "secret.key"), DOCKYARD_USER="bench")

import docker  # noqa: E402
import httpx  # noqa: E402

from dockyard.router.nginx import NginxRouter  # noqa: E402
from dockyard.router.watch import BalancerWatch  # noqa: E402
from tests.integration.bluegreen.helpers import cleanup, make_bg_app  # noqa: E402
from tests.integration.bluegreen.load import Hit, Load  # noqa: E402
from tests.integration.faults.engine import answers, restart_dockerd  # noqa: E402
from tests.integration.faults.test_faults import LEAKING_COMMAND  # noqa: E402

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
IMAGE = "dockyard/busybox:1.35"
RUN = secrets.token_hex(4)
LABELS = {"dockyard.test": "bench-faults", "dockyard.test.run": RUN}
# numbered lines, "<boot> <n>", about 200 a second; the boot count lives in the container's own layer
WRITER = ('b=$(( $(cat /boots 2>/dev/null || echo 0) + 1 )); echo $b > /boots; i=0; '
          'while :; do i=$((i+1)); echo "$b $i"; [ $((i % 20)) = 0 ] && sleep 0.1; done')


def cli(*args: str, cwd: Path) -> None:
    result = subprocess.run([DOCKYARD, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"bench: dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def until(predicate: Callable[[], bool], limit: float, step: float = 0.02) -> float:
    """The monotonic time at which predicate() first held."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(step)
    raise SystemExit(f"bench: not recovered within {limit:g}s")


class AgentProcess:
    """`dockyard agent` as its own process, selecting the writer, in the bench's home."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.listen = f"127.0.0.1:{sock.getsockname()[1]}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = HOME / "agent.log"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([DOCKYARD, "agent", "--listen", self.listen, "--label",
                                          f"dockyard.test.run={RUN}"], stdout=out, stderr=out, start_new_session=True)

    def answers(self) -> bool:
        try:
            return httpx.get(f"http://{self.listen}/metrics", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> float:
        """SIGKILL, then started again at once, as its unit's Restart=always does."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        killed = time.monotonic()
        self.start()
        return killed

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def stored_lines(container_id: str) -> Counter[str]:
    store = HOME / "home" / "logs" / "store.db"
    if not store.exists():
        return Counter()
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        rows = db.execute("select l.msg from lines l join containers c on c.id = l.c where c.cid like ?",
                          (container_id[:12] + "%",)).fetchall()
    except sqlite3.OperationalError:
        return Counter()
    finally:
        db.close()
    return Counter(msg for (msg,) in rows)


def log_balance(writer, settle: float = 20.0) -> tuple[int, int, int]:  # noqa: ANN001 - a docker Container
    """(written, lost, duplicated) so far: the engine's json-file log against the agent's store, once
    the store caught up (or `settle` s passed)."""
    deadline = time.monotonic() + settle
    while True:
        truth = Counter(writer.logs(stdout=True, stderr=True).decode().splitlines())
        stored = stored_lines(writer.id)
        lost = sum((truth - stored).values())
        if lost == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    duplicated = sum(n - 1 for n in stored.values() if n > 1)
    return sum(truth.values()), lost, duplicated


def victim_of(client: docker.DockerClient, app: str) -> tuple[object, int]:
    container = next(c for c in client.containers.list(filters={"label": f"dockyard.app={app}"})
                     if c.name.endswith("-1"))
    return container, int(container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])


def outage(hits: list[Hit]) -> float:
    """From the first failed request of a round to the end of its last one (0: none failed)."""
    failed = [h for h in hits if h.status is None or h.status >= 500]
    return max(h.done for h in failed) - min(h.sent for h in failed) if failed else 0.0


@dataclass
class Fault:
    inject: Callable[[], float]  # returns the monotonic time the cause was gone
    whole: Callable[[], bool]  # recovered
    target: float | None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    client = docker.from_env()
    app, live, _ = make_bg_app(HOME / "apps")
    spec = app.spec_file.read_text()
    app.write("dockyard.yml", spec.replace('command: [httpd, -f, -p, "8080", -h, /www]', LEAKING_COMMAND))
    app.commit("a replica can be made to leak")
    stop = threading.Event()
    agent = AgentProcess()
    writer = None
    try:
        cli("build", cwd=app.path)
        cli("config", "set", "production", "GREETING=one", cwd=app.path)
        cli("deploy", "production", cwd=app.path)
        release = answers(live)
        if release is None:
            raise SystemExit("bench: the live release does not answer")
        router = NginxRouter(app.name, "production")
        threading.Thread(target=BalancerWatch(report=lambda _line: None).run, args=(stop,), daemon=True).start()
        writer = client.containers.run(IMAGE, ["sh", "-c", WRITER], detach=True, name=f"bench-faults-{RUN}-writer",
                                       labels=LABELS, restart_policy={"Name": "unless-stopped"},
                                       stop_signal="SIGKILL",  # a shell as pid 1 ignores SIGTERM
                                       log_config={"type": "json-file", "config": {"max-size": "200m"}})
        agent.start()
        until(agent.answers, 30)

        def kill_master() -> float:
            master = router.pid()
            if master is None:
                raise SystemExit("bench: the balancer does not run")
            os.kill(master, signal.SIGKILL)
            return time.monotonic()

        def oom_kill() -> float:
            victim, _ = victim_of(client, app.name)
            victim.exec_run(["touch", "/tmp/eat"])  # type: ignore[attr-defined]
            until(lambda: victim.reload() or victim.attrs["State"]["OOMKilled"], 10)  # type: ignore[attr-defined]
            return time.monotonic()

        faults = {
            "engine restart": Fault(lambda: restart_dockerd(client), lambda: answers(live) == release, 5.0),
            "nginx master SIGKILL": Fault(kill_master, lambda: answers(live) == release and router.pid() is not None,
                                          2.0),
            "replica OOM-killed": Fault(oom_kill, lambda: answers(victim_of(client, app.name)[1]) == release, None),
            "agent SIGKILL": Fault(agent.kill, agent.answers, None),
        }
        print(f"bench/faults.py: {rounds} round(s) per fault, 4 client threads on 127.0.0.1:{live}, "
              f"live release {release}; dockyard agent pid {agent.proc and agent.proc.pid}")
        print(f"  {'fault':22} {'recovery p50':>13} {'worst':>8} {'worst/target':>13} {'outage p50':>11} "
              f"{'requests':>9} {'failed':>7} {'wrong release':>14} {'lines':>7} {'lost':>5} {'twice':>6}")
        lost_before, dup_before = 0, 0
        for name, fault in faults.items():
            times, outages, hits = [], [], []
            for _ in range(rounds):
                load = Load(f"http://127.0.0.1:{live}/cgi-bin/release", threads=4, max_seconds=150).start()
                time.sleep(1.0)
                cause_gone = fault.inject()
                back = until(fault.whole, 60)
                until(lambda: answers(live) == release, 60)
                time.sleep(1.0)
                round_hits = load.stop()
                hits += round_hits
                times.append(back - cause_gone)
                outages.append(outage(round_hits))
            failed = sum(1 for h in hits if h.status is None or h.status >= 500)
            wrong = sum(1 for h in hits if h.status == 200 and h.body != release)
            written, lost, dup = log_balance(writer)
            worst = max(times)
            ratio = f"{worst / fault.target:12.2f}x" if fault.target else f"{'-':>13}"
            print(f"  {name:22} {statistics.median(times):12.2f}s {worst:7.2f}s {ratio} "
                  f"{statistics.median(outages):10.2f}s {len(hits):9} {failed:7} {wrong:14} "
                  f"{written:7} {lost - lost_before:5} {dup - dup_before:6}")
            lost_before, dup_before = lost, dup
    finally:
        stop.set()
        agent.stop()
        if writer is not None:
            writer.remove(force=True)
        cleanup(client, app, HOME / "home")


if __name__ == "__main__":
    main()

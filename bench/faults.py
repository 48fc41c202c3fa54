"""Benchmark: faults injected into a live blue-green environment under a bounded load (issue 14).

A throwaway app (busybox httpd, two replicas) runs live behind its nginx balancer, with the
balancer watch running as `dockyard server` runs it. 4 client threads on the live 127.0.0.1 port
record every request. Each fault is injected `--rounds` times; one row per fault:

- recovery: from the moment the cause is gone (the engine answers again; the nginx master was
  killed) to the first answer of the live release, median and worst, and that worst as a ratio of
  the issue's target (engine restart: 5 s after the engine answers; balancer crash: 2 s);
- the outage users saw: from the injection to the first answer of the live release again, median;
- failed requests (no HTTP answer or 5xx) and wrong-release answers (a 200 from anything but the
  live release) over the whole fault window, load included. A client retries at once, so a failed
  count is about 4 threads x 100 a second of outage.

    .venv/bin/python bench/faults.py [--rounds 3]

It restarts this host's dockerd (SIGTERM, then scripts/setup.sh start): run it on a test machine.
Log lines lost across a forwarder crash are bench/logs.py's figure, not measured here.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
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

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
TARGETS = {"engine restart": 5.0, "nginx master SIGKILL": 2.0}


def cli(*args: str, cwd: Path) -> None:
    result = subprocess.run([DOCKYARD, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"bench: dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def answer(port: int) -> str | None:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/cgi-bin/release", timeout=1)
    except httpx.HTTPError:
        return None
    return response.text.strip() if response.status_code == 200 else None


def until(predicate: Callable[[], bool], limit: float, step: float = 0.02) -> float:
    """The monotonic time at which predicate() first held."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(step)
    raise SystemExit(f"bench: not recovered within {limit:g}s")


def engine_answers(client: docker.DockerClient) -> bool:
    try:
        return bool(client.ping())
    except (docker.errors.DockerException, OSError):
        return False


def restart_engine(client: docker.DockerClient) -> float:
    pid = int(Path("/var/run/docker.pid").read_text().strip())
    os.kill(pid, signal.SIGTERM)
    until(lambda: not Path(f"/proc/{pid}").exists(), 60, 0.1)
    subprocess.run(["bash", str(REPO / "scripts" / "setup.sh"), "start"], check=True, capture_output=True,
                   timeout=180)
    return until(lambda: engine_answers(client), 60)


def kill_master(router: NginxRouter) -> float:
    master = router.pid()
    if master is None:
        raise SystemExit("bench: the balancer does not run")
    os.kill(master, signal.SIGKILL)
    return time.monotonic()


def bad(hits: list[Hit], release: str) -> tuple[int, int]:
    failed = sum(1 for h in hits if h.status is None or h.status >= 500)
    wrong = sum(1 for h in hits if h.status == 200 and h.body != release)
    return failed, wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    client = docker.from_env()
    app, live, _ = make_bg_app(HOME / "apps")
    stop = threading.Event()
    try:
        cli("build", cwd=app.path)
        cli("config", "set", "production", "GREETING=one", cwd=app.path)
        cli("deploy", "production", cwd=app.path)
        release = answer(live)
        if release is None:
            raise SystemExit("bench: the live release does not answer")
        router = NginxRouter(app.name, "production")
        threading.Thread(target=BalancerWatch(report=lambda _line: None).run, args=(stop,), daemon=True).start()
        faults: dict[str, Callable[[], float]] = {
            "engine restart": lambda: restart_engine(client),
            "nginx master SIGKILL": lambda: kill_master(router),
        }
        print(f"bench/faults.py: {rounds} round(s) per fault, 4 client threads on 127.0.0.1:{live}, "
              f"live release {release}")
        print(f"  {'fault':22} {'recovery p50':>13} {'worst':>8} {'worst/target':>13} {'outage p50':>11} "
              f"{'requests':>9} {'failed':>7} {'wrong release':>14}")
        for name, inject in faults.items():
            times, outages, hits = [], [], []
            for _ in range(rounds):
                load = Load(f"http://127.0.0.1:{live}/cgi-bin/release", threads=4, max_seconds=150).start()
                time.sleep(1.0)
                injected = time.monotonic()
                cause_gone = inject()
                back = until(lambda: answer(live) == release and router.pid() is not None, 60)
                time.sleep(1.0)
                hits += load.stop()
                times.append(back - cause_gone)
                outages.append(back - injected)
            failed, wrong = bad(hits, release)
            worst = max(times)
            print(f"  {name:22} {statistics.median(times):12.2f}s {worst:7.2f}s {worst / TARGETS[name]:12.2f}x "
                  f"{statistics.median(outages):10.2f}s {len(hits):9} {failed:7} {wrong:14}")
    finally:
        stop.set()
        cleanup(client, app, HOME / "home")


if __name__ == "__main__":
    main()

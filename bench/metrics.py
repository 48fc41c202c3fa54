"""Metrics cost: the agent's cgroup readers against the Docker stats API, measured in the same run.

    .venv/bin/python bench/metrics.py [--containers 100] [--seconds 60]

Starts N small labelled busybox containers, then times one full sweep by the agent's readers
and one sequential sweep through the Docker stats API (stream=False, one-shot), and runs the
real agent (`python -m dockyard.monitor agent`) sampling all N every second for --seconds to
read its CPU share and resident memory: once for metrics only (--no-logs), once with its log
forwarder following the same containers (the default). Prints ratios; removes every container it made.
Targets (issue 5): sweep <= 20 ms CPU, >= 1000x cheaper than the stats API, agent < 2 % of one
core at 1 s sampling and < 100 MB resident.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from dockyard.engine.client import connect  # noqa: E402
from dockyard.monitor.collector import Collector, process_cpu_seconds  # noqa: E402
from dockyard.monitor.inventory import Inventory  # noqa: E402
from tests.ports import free_port  # noqa: E402

LABEL = "dockyard.test"
VALUE = "monitor-bench"
IMAGE = "dockyard/busybox:1.35"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cleanup(client: docker.DockerClient) -> int:
    gone = client.containers.list(all=True, filters={"label": f"{LABEL}={VALUE}"})
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda c: c.remove(force=True), gone))
    return len(gone)


def agent_share(seconds: float, logs: bool) -> tuple[float, float, float, int]:
    """Run the real agent on the N containers; (CPU % of one core, MB resident, seconds, containers seen)."""
    port = free_port()
    agent = subprocess.Popen(
        [sys.executable, "-m", "dockyard.monitor", "agent", "--listen", f"127.0.0.1:{port}",
         "--interval", "1", "--label", f"{LABEL}={VALUE}", "--probe-interval", "10",
         *([] if logs else ["--no-logs"])],
        cwd=ROOT, env={**os.environ, "DOCKYARD_HOME": f"/tmp/dockyard-bench-{os.getpid()}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/stats", timeout=2).json()["sweeps"] >= 3:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or agent.poll() is not None:
                raise SystemExit("the agent did not start")
            time.sleep(0.2)
        cpu0, w0 = process_cpu_seconds(agent.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, w1 = process_cpu_seconds(agent.pid), time.monotonic()
        data = httpx.get(f"http://127.0.0.1:{port}/api/stats", timeout=5).json()
        return (cpu1 - cpu0) / (w1 - w0) * 100, rss_mb(agent.pid), w1 - w0, len(data["samples"])
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(10)
        except subprocess.TimeoutExpired:
            agent.kill()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--stats-sample", type=int, default=0,
                    help="time the stats API on this many containers only and scale up (0: all)")
    args = ap.parse_args()
    n = max(1, min(args.containers, 200))
    seconds = max(5.0, min(args.seconds, 300.0))
    client = docker.from_env(timeout=120)
    cleanup(client)
    try:
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: client.containers.run(
                IMAGE, ["sleep", "3600"], detach=True, name=f"monitor-bench-{i}", labels={LABEL: VALUE},
                mem_limit="16m"), range(n)))
        print(f"started {n} containers in {time.monotonic() - t0:.1f} s")

        engine = connect("local", timeout=120)
        inventory = Inventory(engine, {LABEL: VALUE})
        inventory.refresh()
        engine.close()
        items = inventory.snapshot()
        collector = Collector(driver=client.info().get("CgroupDriver", "cgroupfs"))
        collector.sweep(items)  # first sweep opens the files
        runs = []
        for _ in range(20):
            c0, w0 = time.thread_time(), time.perf_counter()
            samples = collector.sweep(items)
            runs.append((time.thread_time() - c0, time.perf_counter() - w0))
        assert len(samples) == n and all(s.up for s in samples), "not every container was read"
        cold = Collector(driver=collector.driver)
        c0, w0 = time.thread_time(), time.perf_counter()
        cold.sweep(items)
        cold_cpu, cold_wall = time.thread_time() - c0, time.perf_counter() - w0
        cold.close()
        collector.close()
        sweep_cpu = sorted(r[0] for r in runs)[len(runs) // 2]
        sweep_wall = sorted(r[1] for r in runs)[len(runs) // 2]

        targets = items[: args.stats_sample] if args.stats_sample else items
        w0 = time.perf_counter()
        for item in targets:
            client.api.stats(item.id, stream=False, one_shot=True)
        api_wall = (time.perf_counter() - w0) * len(items) / len(targets)
        note = "" if len(targets) == len(items) else f" (timed on {len(targets)}, scaled)"

        shares = [agent_share(seconds, logs) for logs in (False, True)]

        print(f"containers: {n}   cgroup driver: {collector.driver}   cgroup v{collector.layout.version}")
        print(f"agent sweep (warm, median of 20): {sweep_cpu * 1000:.2f} ms CPU, {sweep_wall * 1000:.2f} ms wall"
              f"   [target <= 20 ms CPU]")
        print(f"agent sweep (cold, opens every file): {cold_cpu * 1000:.2f} ms CPU, {cold_wall * 1000:.2f} ms wall")
        print(f"docker stats API sweep (one-shot, sequential): {api_wall:.2f} s wall{note}")
        print(f"ratio stats API / agent sweep: {api_wall / sweep_wall:,.0f}x (wall)   "
              f"[target >= 1000x]")
        for (share, rss, window, seen), logs in zip(shares, (False, True), strict=True):
            what = "with its log forwarder following them too" if logs else "metrics only (--no-logs)"
            print(f"agent process over {window:.0f} s at 1 s sampling of {seen} containers, {what}: "
                  f"{share:.2f} % of one core, {rss:.1f} MB resident   [targets < 2 %, < 100 MB]")
    finally:
        print(f"removed {cleanup(client)} containers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

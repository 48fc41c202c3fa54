"""The agent's own cost (issue 30): CPU and resident memory of `dockyard agent` following N labelled
busybox containers that each write a few log lines a second, against the Docker daemon's cost for
the same containers, measured over the same window.

    .venv/bin/python bench/agent.py [--containers 50] [--seconds 60] [--lines-per-second 3] [--compare CHECKOUT]

Starts N containers (label dockyard.test=agent-bench), each a busybox `sh` loop echoing a ~55-byte
access-log line (`line 17 from <host>: GET /items 200 12ms`) 3 times a second: 150 lines/s in all
with 50, to json-file logs, which is what a host of quiet web services writes. Then it runs this
checkout's agent (`python -m dockyard.monitor agent`, 1 s sampling, probes every 10 s) twice:
metrics only (--no-logs), then with its log forwarder storing every line. With --compare, the agent
of another checkout (a worktree of main, say) runs beside it in the same windows, over the same
containers, each with a home of its own: a before/after in one run. In each window it reads, from
/proc: the agent's CPU time and its resident memory (each second; the peak is VmHWM), dockerd's
CPU time (it writes the json-file logs) and the CPU time of the containers' shims. It checks that
the agent read every container and (with logs) the lines written. Removes every container it made.
Targets: the agent under 1 % of one core and under 40 MB resident.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.ports import free_port  # noqa: E402

LABEL, VALUE = "dockyard.test", "agent-bench"
IMAGE = "dockyard/busybox:1.35"
TICK = os.sysconf("SC_CLK_TCK")
SAMPLE_LINE = "line $i from $HOSTNAME: GET /items 200 12ms"  # about 55 bytes once the shell expands it


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
        return answer.read().decode()


def metric(text: str, name: str) -> float:
    """A counter's value in Prometheus text (named with or without its _total)."""
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.split(" ", 1)[0] in (name, name + "_total"))


def cleanup(client: docker.DockerClient) -> int:
    gone = client.containers.list(all=True, filters={"label": f"{LABEL}={VALUE}"})
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda c: c.remove(force=True), gone))
    return len(gone)


def window(pids: dict[str, list[int]], seconds: float, agents: list[int]) -> tuple[dict[str, float], list[list[float]]]:
    """CPU % of one core of each group of processes over `seconds`, and the agents' RSS each second."""
    def total(group: list[int]) -> float:
        found = 0.0
        for pid in group:
            try:
                found += cpu_seconds(pid)
            except OSError:
                pass
        return found

    before = {name: total(group) for name, group in pids.items()}
    t0 = time.monotonic()
    rss = []
    while time.monotonic() - t0 < seconds:
        time.sleep(1.0)
        rss.append([status_kb(agent, "VmRSS") / 1024 for agent in agents])
    wall = time.monotonic() - t0
    return {name: (total(group) - before[name]) / wall * 100 for name, group in pids.items()}, rss


def start_agent(root: Path, home: str, port: int, logs: bool) -> subprocess.Popen[bytes]:
    """`dockyard agent` of the checkout at `root` (its code first on the path, whatever is installed)."""
    return subprocess.Popen(
        [sys.executable, "-m", "dockyard.monitor", "agent", "--listen", f"127.0.0.1:{port}", "--interval", "1",
         "--probe-interval", "10", "--label", f"{LABEL}={VALUE}", *([] if logs else ["--no-logs"])],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root), "DOCKYARD_HOME": home},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_agents(roots: dict[str, Path], n: int, seconds: float, logs: bool,
               peers: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    """Each checkout's agent, all running over the same containers and measured in the same window."""
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-agent-") as tmp:
        ports = {name: free_port() for name in roots}
        agents: dict[str, subprocess.Popen[bytes]] = {}
        try:
            for name, root in roots.items():
                os.mkdir(f"{tmp}/{name}")
                agents[name] = start_agent(root, f"{tmp}/{name}", ports[name], logs)
            deadline = time.monotonic() + 60
            for name, port in ports.items():
                while True:
                    try:
                        stats = json.loads(get(port, "/api/stats"))
                        if stats["sweeps"] >= 3 and len(stats["samples"]) == n:
                            break
                    except OSError:
                        pass
                    if time.monotonic() > deadline or agents[name].poll() is not None:
                        raise SystemExit(f"the agent of {roots[name]} did not start, or did not see every container")
                    time.sleep(0.2)
            time.sleep(3)  # the forwarder's first catch-up over the logs written so far
            read0 = {name: metric(get(port, "/metrics"), "dockyard_logs_lines_read") for name, port in ports.items()}
            shares, rss = window({**{name: [a.pid] for name, a in agents.items()}, **peers}, seconds,
                                 [a.pid for a in agents.values()])
            out = {}
            for i, (name, port) in enumerate(ports.items()):
                read1 = metric(get(port, "/metrics"), "dockyard_logs_lines_read")
                stats = json.loads(get(port, "/api/stats"))
                assert len(stats["samples"]) == n and all(s["up"] for s in stats["samples"]), "a container was missed"
                mine = [r[i] for r in rss]
                out[name] = {"agent": shares[name], **{k: shares[k] for k in peers},
                             "rss": sorted(mine)[len(mine) // 2], "rss_last": mine[-1],
                             "hwm": status_kb(agents[name].pid, "VmHWM") / 1024,
                             "lines_s": (read1 - read0[name]) / seconds}
            return out
        finally:
            for agent in agents.values():
                agent.send_signal(signal.SIGTERM)
            for agent in agents.values():
                try:
                    agent.wait(15)
                except subprocess.TimeoutExpired:
                    agent.kill()
                    agent.wait(10)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--lines-per-second", type=float, default=3.0)
    ap.add_argument("--only", choices=["metrics", "logs"], help="run one of the two agents only")
    ap.add_argument("--compare", type=Path, metavar="CHECKOUT",
                    help="also run the agent of another checkout (a worktree of main, say) in the same windows")
    args = ap.parse_args()
    n = max(1, min(args.containers, 200))
    seconds = max(10.0, min(args.seconds, 600.0))
    pause = f"{1 / max(0.1, min(args.lines_per_second, 100.0)):.3f}"
    client = docker.from_env(timeout=120)
    cleanup(client)
    try:
        script = (f'i=0; while true; do i=$((i+1)); echo "{SAMPLE_LINE}"; '
                  f'sleep {pause}; done')
        with ThreadPoolExecutor(8) as pool:
            made = list(pool.map(lambda i: client.containers.run(
                IMAGE, ["sh", "-c", script], detach=True, name=f"agent-bench-{i}", labels={LABEL: VALUE},
                mem_limit="16m"), range(n)))
        shims = [parent(c.attrs["State"]["Pid"]) for c in (client.containers.get(m.id) for m in made)]
        dockerd = int(Path("/var/run/docker.pid").read_text())
        peers = {"dockerd": [dockerd], "shims": shims}
        modes = [m for m in (False, True) if args.only is None or args.only == ("logs" if m else "metrics")]
        roots = {"this": ROOT, **({"compare": args.compare.resolve()} if args.compare else {})}
        results = [(logs, run_agents(roots, n, seconds, logs, peers)) for logs in modes]
        print(f"{n} containers, each `sh` echoing a ~55-byte access-log line {args.lines_per_second:g} times a "
              f"second ({n * args.lines_per_second:g} lines/s in all, json-file logs); {seconds:.0f} s windows; "
              f"CPU in % of one core over the same window")
        if args.compare:
            print(f"this: {ROOT}; compare: {args.compare.resolve()} (both agents run in each window)")
        print(f"{'agent':42} {'agent CPU':>9} {'RSS med':>8} {'RSS peak':>8} {'lines/s':>8} "
              f"{'dockerd':>8} {'shims':>8} {'agent/dockerd':>13}")
        for logs, by_root in results:
            for name, r in by_root.items():
                what = ("metrics + log forwarder" if logs else "metrics only (--no-logs)") + \
                    (f" [{name}]" if args.compare else "")
                lines = f"{r['lines_s']:8.0f}" if logs else f"{'-':>8}"
                print(f"{what:42} {r['agent']:8.2f}% {r['rss']:6.1f}MB {r['hwm']:6.1f}MB {lines} "
                      f"{r['dockerd']:7.2f}% {r['shims']:7.2f}% {r['agent'] / max(r['dockerd'], 0.01):12.2f}x")
        print("targets: agent < 1 % of one core, < 40 MB resident")
    finally:
        print(f"removed {cleanup(client)} containers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The log path, large: reliability (1,000,000 numbered lines, rotation, 3 SIGKILLs, a 30 s store
outage: lost and duplicated must be 0) and throughput from json-file logs into the embedded
store, on small lines and on 1 KiB lines, against rsyslog's imfile reading the same files and
the Docker API's log stream, all in the same run. Every throughput run checks its store too:
each line once (lost and doubled must be 0).

    .venv/bin/python bench/logs.py                      # the large run (a few minutes)
    .venv/bin/python bench/logs.py --small              # a quick one
    .venv/bin/python bench/logs.py --throughput --repeat 3   # throughput only, each size 3 times
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.logs.harness import (  # noqa: E402
    IMAGE,
    PAYLOAD,
    RUN_LABEL,
    TEST_LABEL,
    ForwarderProcess,
    Plan,
    count_lines,
    forwarder_argv,
    remove_run,
    run,
    verify,
)

DEADLINE = 900.0
# A 1 KiB line: "w3 1234 " and this (the payload repeated), 1,024 bytes with its newline at the longest.
PAYLOAD_1K = ((PAYLOAD + "-") * 25)[:1024 - len("w9 100000 ") - 1]


def write_static(client: docker.DockerClient, run_id: str, containers: int, lines_each: int,
                 payload: str = PAYLOAD) -> list:
    """Containers that write their lines as fast as they can, then exit (no rotation: static files)."""
    made = []
    for i in range(containers):
        made.append(client.containers.run(
            IMAGE, ["sh", "-c", f'seq 1 {lines_each} | sed "s/.*/w{i} & {payload}/"'], detach=True,
            labels={TEST_LABEL: "logs", RUN_LABEL: run_id, "dockyard.app": f"logs{run_id}",
                    "dockyard.env": "bench", "dockyard.service": "writer"},
            log_config={"type": "json-file", "config": {"max-size": "1g"}}))
    deadline = time.monotonic() + DEADLINE
    for c in made:
        c.wait(timeout=max(1, deadline - time.monotonic()))
    return made


def index_complete(store: Path) -> bool:
    """Whether the store's full-text index holds every block (the forwarder builds it lazily)."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        return bool(db.execute("select upto >= coalesce((select max(id) from blocks), 0) from indexed").fetchone()[0])
    finally:
        db.close()


def time_forwarder(workdir: Path, run_id: str, total: int) -> tuple[float, float, int, float, Path]:
    state = workdir / f"fwd-{run_id}"
    argv = forwarder_argv(state, run_id, ["--docker-host", ""])
    if shutil.which("taskset"):
        argv = ["taskset", "-c", "0", *argv]  # one core
    fwd = ForwarderProcess(argv, workdir / f"fwd-{run_id}.log")
    t0 = time.monotonic()
    fwd.start()
    try:
        while count_lines(state / "store.db", f"logs{run_id}") < total:
            if time.monotonic() - t0 > DEADLINE:
                raise SystemExit("forwarder did not finish in time")
            time.sleep(0.05)
        seconds = time.monotonic() - t0
        while not index_complete(state / "store.db"):
            if time.monotonic() - t0 > DEADLINE:
                raise SystemExit("forwarder did not index in time")
            time.sleep(0.05)
        indexed = time.monotonic() - t0
    finally:
        fwd.stop()
    return seconds, indexed, fwd.peak_rss_kb, fwd.cpu_seconds, state / "store.db"


def time_docker_api(containers: list, total: int) -> float:
    t0 = time.monotonic()
    seen = 0
    for c in containers:
        for chunk in c.logs(stream=True, timestamps=True, follow=False):
            seen += chunk.count(b"\n")
    seconds = time.monotonic() - t0
    if seen < total:
        print(f"  (docker API gave {seen} of {total} lines)")
    return seconds


RSYSLOG_CONF = """\
global(workDirectory="{work}")
module(load="imfile")
template(name="raw" type="string" string="%msg%\\n")
{inputs}
action(type="omfile" file="{out}" template="raw")
"""


def time_rsyslog(workdir: Path, containers: list, total: int) -> tuple[float, float]:
    work = workdir / "rsyslog"
    work.mkdir(parents=True)
    out = work / "out.log"
    inputs = "\n".join(
        f'input(type="imfile" File="/var/lib/docker/containers/{c.id}/{c.id}-json.log" Tag="c{i}")'
        for i, c in enumerate(containers))
    conf = work / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=work, out=out, inputs=inputs))
    t0 = time.monotonic()
    proc = subprocess.Popen(["/usr/sbin/rsyslogd", "-n", "-f", str(conf), "-i", str(work / "pid")],
                            stdout=subprocess.DEVNULL, stderr=open(work / "stderr", "wb"))
    try:
        lines = 0
        while lines < total:
            if time.monotonic() - t0 > DEADLINE or proc.poll() is not None:
                raise SystemExit(f"rsyslog stopped at {lines} lines: {(work / 'stderr').read_text()[-500:]}")
            time.sleep(0.05)
            lines = _count_newlines(out)
        seconds = time.monotonic() - t0
        return seconds, _cpu_seconds(proc.pid)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(20)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process (the machine is shared: wall time alone misleads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _count_newlines(path: Path) -> int:
    try:
        with path.open("rb") as fh:
            return sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


@dataclass
class Throughput:
    size: str
    lines: int
    forwarder: float  # lines/s, each of these
    indexed: float  # lines/s until the forwarder's full-text index held them too
    rsyslog: float
    api: float
    forwarder_cpu: float  # lines per CPU second
    rsyslog_cpu: float
    rss_mb: float
    lost: int
    doubled: int


def throughput(client: docker.DockerClient, workdir: Path, size: str, containers: int, per: int) -> Throughput:
    """One size: the containers write their lines, then the forwarder, the Docker API and rsyslog
    each read all of them, one after the other (the peers in the same run); the store is checked."""
    payload = PAYLOAD if size == "small" else PAYLOAD_1K
    run_id = secrets.token_hex(4)
    total = containers * per
    try:
        made = write_static(client, run_id, containers, per, payload)
        fwd_s, idx_s, rss, fwd_cpu, store = time_forwarder(workdir, run_id, total)
        api_s = time_docker_api(made, total)
        rs_s, rs_cpu = time_rsyslog(workdir / run_id, made, total)
    finally:
        remove_run(client, run_id)
    _, _, lost, doubled = verify(store, f"logs{run_id}", Plan(containers=containers, lines_each=per), payload)
    return Throughput(size, total, total / fwd_s, total / idx_s, total / rs_s, total / api_s, total / fwd_cpu,
                      total / rs_cpu, rss / 1024, lost, doubled)


def print_table(rows: list[Throughput], header: bool = True) -> None:
    if header:
        print(f"  {'lines':<6}{'count':>10}  {'forwarder (1 core)':>19}  {'+ indexed':>11}  {'rsyslog imfile':>15}  "
              f"{'ratio':>6}  "
              f"{'docker API':>11}  {'ratio':>6}  {'per CPU s: fwd':>14}  {'rsyslog':>10}  {'ratio':>6}  {'RSS':>6}  "
              f"lost  doubled")
    for r in rows:
        print(f"  {r.size:<6}{r.lines:>10,}  {r.forwarder:>13,.0f} /s    {r.indexed:>8,.0f} /s  "
              f"{r.rsyslog:>12,.0f} /s  "
              f"{r.forwarder / r.rsyslog:>6.2f}  {r.api:>8,.0f} /s  {r.forwarder / r.api:>6.2f}  "
              f"{r.forwarder_cpu:>14,.0f}  {r.rsyslog_cpu:>10,.0f}  {r.forwarder_cpu / r.rsyslog_cpu:>6.2f}  "
              f"{r.rss_mb:>4.0f}MB  {r.lost:>4}  {r.doubled:>7}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="a quick run (100,000 lines, 10 s outage)")
    parser.add_argument("--throughput", action="store_true", help="the throughput runs only (no reliability run)")
    parser.add_argument("--repeat", type=int, default=1, help="throughput runs per line size")
    args = parser.parse_args()
    client = docker.from_env()
    per = 10_000 if args.small else 100_000
    plan = Plan(containers=10, lines_each=per, chunks=20, pause=0.3 if args.small else 0.5,
                max_size="1m" if args.small else "2m", max_file=10, kills=3, kill_every=3.0 if args.small else 5.0,
                outage=10.0 if args.small else 30.0, outage_at=2.0 if args.small else 8.0, deadline=DEADLINE)
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-logs-") as tmp:
        workdir = Path(tmp)
        if not args.throughput:
            print(f"reliability: {plan.total:,} lines from {plan.containers} containers, max-size={plan.max_size} "
                  f"max-file={plan.max_file}, {plan.kills} SIGKILLs, store unavailable {plan.outage:.0f} s")
            (workdir / "rel").mkdir()
            outcome = run(client, workdir / "rel", plan, say=print)
            print(f"  stored {outcome.stored:,} in {outcome.seconds:.1f} s: lost {outcome.lost}, duplicated "
                  f"{outcome.duplicated}, losses recorded {len(outcome.losses_recorded)}, forwarder peak RSS "
                  f"{outcome.peak_rss_kb / 1024:.0f} MB")
        print(f"throughput: lines already in the json-file logs of {plan.containers} containers, into the embedded "
              f"store (tagged; its full-text index is built lazily: '+ indexed' is the rate until the index "
              f"holds them too) against rsyslog imfile -> file (raw, untagged) and the Docker API "
              f"(read only), each after the other; ratio = forwarder / peer")
        rows = []
        for _ in range(args.repeat):
            for size, each in (("small", per), ("1KiB", per // 2)):
                rows.append(throughput(client, workdir, size, plan.containers, each))
                print_table(rows[-1:], header=len(rows) == 1)
        if args.repeat > 1:
            print("  all runs:")
            print_table(rows)


if __name__ == "__main__":
    main()

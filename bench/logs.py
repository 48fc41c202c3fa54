"""The log path, large: reliability (1,000,000 numbered lines, rotation, 3 SIGKILLs, a 30 s store
outage: lost and duplicated must be 0) and throughput from json-file logs into the embedded
store, against the Docker API's log stream and rsyslog's imfile reading the same files.

    .venv/bin/python bench/logs.py            # the large run (a few minutes)
    .venv/bin/python bench/logs.py --small    # a quick one
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
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
)

DEADLINE = 900.0


def write_static(client: docker.DockerClient, run_id: str, containers: int, lines_each: int) -> list:
    """Containers that write their lines as fast as they can, then exit (no rotation: static files)."""
    made = []
    for i in range(containers):
        made.append(client.containers.run(
            IMAGE, ["sh", "-c", f'seq 1 {lines_each} | sed "s/.*/w{i} & {PAYLOAD}/"'], detach=True,
            labels={TEST_LABEL: "logs", RUN_LABEL: run_id, "dockyard.app": f"logs{run_id}",
                    "dockyard.env": "bench", "dockyard.service": "writer"},
            log_config={"type": "json-file", "config": {"max-size": "1g"}}))
    deadline = time.monotonic() + DEADLINE
    for c in made:
        c.wait(timeout=max(1, deadline - time.monotonic()))
    return made


def time_forwarder(workdir: Path, run_id: str, total: int) -> tuple[float, int, float]:
    state = workdir / "fwd"
    argv = forwarder_argv(state, run_id, ["--docker-host", ""])
    if shutil.which("taskset"):
        argv = ["taskset", "-c", "0", *argv]  # one core
    fwd = ForwarderProcess(argv, workdir / "fwd.log")
    t0 = time.monotonic()
    fwd.start()
    try:
        while count_lines(state / "store.db", f"logs{run_id}") < total:
            if time.monotonic() - t0 > DEADLINE:
                raise SystemExit("forwarder did not finish in time")
            time.sleep(0.05)
        seconds = time.monotonic() - t0
    finally:
        fwd.stop()
    return seconds, fwd.peak_rss_kb, fwd.cpu_seconds


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
    work.mkdir()
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="a quick run (100,000 lines, 10 s outage)")
    args = parser.parse_args()
    client = docker.from_env()
    per = 10_000 if args.small else 100_000
    plan = Plan(containers=10, lines_each=per, chunks=20, pause=0.3 if args.small else 0.5,
                max_size="1m" if args.small else "2m", max_file=10, kills=3, kill_every=3.0 if args.small else 5.0,
                outage=10.0 if args.small else 30.0, outage_at=2.0 if args.small else 8.0, deadline=DEADLINE)
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-logs-") as tmp:
        workdir = Path(tmp)
        print(f"reliability: {plan.total:,} lines from {plan.containers} containers, max-size={plan.max_size} "
              f"max-file={plan.max_file}, {plan.kills} SIGKILLs, store unavailable {plan.outage:.0f} s")
        (workdir / "rel").mkdir()
        outcome = run(client, workdir / "rel", plan, say=print)
        print(f"  stored {outcome.stored:,} in {outcome.seconds:.1f} s: lost {outcome.lost}, duplicated "
              f"{outcome.duplicated}, losses recorded {len(outcome.losses_recorded)}, forwarder peak RSS "
              f"{outcome.peak_rss_kb / 1024:.0f} MB")

        run_id = secrets.token_hex(4)
        total = plan.total
        try:
            print(f"throughput: {total:,} lines already in json-file logs of {plan.containers} containers")
            containers = write_static(client, run_id, plan.containers, per)
            fwd_s, rss, fwd_cpu = time_forwarder(workdir, run_id, total)
            api_s = time_docker_api(containers, total)
            rs_s, rs_cpu = time_rsyslog(workdir, containers, total)
        finally:
            remove_run(client, run_id)
        fwd_rate, api_rate, rs_rate = total / fwd_s, total / api_s, total / rs_s
        print(f"{'  forwarder -> embedded store (tagged, FTS-indexed), 1 core:':<63}{fwd_rate:>10,.0f} lines/s "
              f"({fwd_s:.1f} s), peak RSS {rss / 1024:.0f} MB; {total / fwd_cpu:,.0f} lines per CPU second")
        print(f"  docker API log stream (read only):                           {api_rate:>10,.0f} lines/s "
              f"({api_s:.1f} s)  ratio forwarder/api {fwd_rate / api_rate:.2f}")
        print(f"  rsyslog imfile -> file (raw, untagged):                      {rs_rate:>10,.0f} lines/s "
              f"({rs_s:.1f} s)  ratio forwarder/rsyslog {fwd_rate / rs_rate:.2f}; {total / rs_cpu:,.0f} lines per "
              f"CPU second")


if __name__ == "__main__":
    main()

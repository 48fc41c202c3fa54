"""Benchmark: which proxy the edge should be, by measurement (issue 15, ARCHITECTURE "edge proxy").
It chose HAProxy (docs/edge.md); it stays to measure the choice again on another machine.

One busybox httpd container (1 CPU) on a free 127.0.0.1 port, and in front of it, each on its own
free port: nginx as the edge ran it (no client keep-alive), nginx with client keep-alive, and
HAProxy 2.6 with client keep-alive and `option idle-close-on-response` (at a reload, an idle
kept-alive connection is closed after its next response, not at once). For each: Debian's `hey`
throughput (`--requests` from `--workers`, `--rounds` times, alternating with the container
direct; the median is printed with its ratio to direct), then an httpx load of 4 threads (a
client that does not retry a request on a connection the server closed) across `--reloads`
graceful reloads, with the failed requests counted.

    .venv/bin/python bench/edge_proxies.py [--rounds 3] [--requests 4000] [--workers 8] [--reloads 20]
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.bluegreen.load import Load  # noqa: E402
from tests.ports import free_port  # noqa: E402

LABEL = "dockyard.bench=edge-proxies"  # what the bench starts, removed at its end


def hey(url: str, requests: int, workers: int) -> float:
    argv = ["hey", "-n", str(requests), "-c", str(workers), "-t", "5", url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120).stdout
    found = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if found is None:
        raise SystemExit(f"bench: hey printed no Requests/sec:\n{out}")
    return float(found.group(1))


def nginx_conf(folder: Path, port: int, upstream: int, keepalive: str) -> Path:
    (folder / "temp").mkdir(parents=True, exist_ok=True)
    temp = " ".join(f"{kind}_temp_path {folder}/temp;" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = folder / "nginx.conf"
    conf.write_text(f"""worker_processes auto;
pid {folder}/nginx.pid;
error_log {folder}/error.log notice;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_timeout {keepalive};
    {temp}
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    upstream replica {{ server 127.0.0.1:{upstream} max_fails=1 fail_timeout=2s; keepalive 16; }}
    server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://replica; }} }}
}}
""")
    return conf


def haproxy_conf(folder: Path, port: int, upstream: int) -> Path:
    conf = folder / "haproxy.cfg"
    conf.write_text(f"""global
    master-worker
    nbthread 2
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 60s
    timeout http-keep-alive 30s
    option http-keep-alive
    option idle-close-on-response
    retries 3
frontend edge
    bind 127.0.0.1:{port}
    default_backend replica
backend replica
    http-reuse safe
    server r1 127.0.0.1:{upstream}
""")
    return conf


def reloads_under_load(url: str, reload: Callable[[], None], count: int) -> tuple[int, int]:
    load = Load(url, threads=4, max_seconds=count * 0.5 + 30, pause=0.002).start()
    try:
        for _ in range(count):
            time.sleep(0.5)
            reload()
        time.sleep(1)
    finally:
        hits = load.stop()
    return len(hits), sum(1 for h in hits if h.status != 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--reloads", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-proxies-"))
    upstream = free_port()
    cid = subprocess.run(["docker", "run", "-d", "--label", LABEL, "--cpus", "1", "-p", f"127.0.0.1:{upstream}:8080",
                          "dockyard/busybox:1.35", "httpd", "-f", "-p", "8080", "-h", "/etc"],
                         capture_output=True, text=True, check=True).stdout.strip()
    masters: dict[str, int] = {}
    haproxy: subprocess.Popen[bytes] | None = None
    try:
        ports = {name: free_port() for name in ("nginx", "nginx keep-alive", "haproxy keep-alive")}
        for name, keepalive in (("nginx", "0"), ("nginx keep-alive", "30s")):
            folder = work / name.replace(" ", "-")
            conf = nginx_conf(folder, ports[name], upstream, keepalive)
            subprocess.run(["nginx", "-p", str(folder), "-c", str(conf)], check=True, capture_output=True)
            masters[name] = int((folder / "nginx.pid").read_text())
        haproxy = subprocess.Popen(["haproxy", "-W", "-f", str(haproxy_conf(work, ports["haproxy keep-alive"],
                                                                            upstream))],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        masters["haproxy keep-alive"] = haproxy.pid
        urls = {"direct": f"http://127.0.0.1:{upstream}/hostname",
                **{name: f"http://127.0.0.1:{port}/hostname" for name, port in ports.items()}}
        time.sleep(1)
        for url in urls.values():
            hey(url, 300, args.workers)  # warm every path
        runs: dict[str, list[float]] = {name: [] for name in urls}
        for _ in range(args.rounds):
            for name, url in urls.items():
                runs[name].append(hey(url, args.requests, args.workers))
        print(f"bench/edge_proxies.py: {args.rounds} rounds of {args.requests} requests from {args.workers} "
              f"workers (hey), one busybox httpd replica (1 CPU), 127.0.0.1")
        direct = statistics.median(runs["direct"])
        for name, values in runs.items():
            median = statistics.median(values)
            print(f"  {name:20} {median:8.0f} req/s  {median / direct:.2f}x direct")
        signals = {"nginx": signal.SIGHUP, "nginx keep-alive": signal.SIGHUP, "haproxy keep-alive": signal.SIGUSR2}
        for name, sig in signals.items():
            total, failed = reloads_under_load(urls[name], functools.partial(os.kill, masters[name], sig), args.reloads)
            print(f"  {args.reloads} reloads under an httpx load, {name:20} {total} requests, {failed} failed")
    finally:
        for name, pid in masters.items():
            if name.startswith("nginx"):
                os.kill(pid, signal.SIGQUIT)
        if haproxy is not None:
            haproxy.terminate()
            haproxy.wait(10)
        subprocess.run(["docker", "rm", "-f", cid], capture_output=True)


if __name__ == "__main__":
    main()

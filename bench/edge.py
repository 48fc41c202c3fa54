"""Benchmark: the edge against the replica it routes to, in the same run (issue 15).

A throwaway rolling app with one busybox httpd replica and a domain, behind the host's edge on
free 127.0.0.1 ports. Debian's `hey` sends the same bounded load (`--requests` requests from
`--workers` workers, each run stopped after 60 s) straight to the replica's published port and through
the edge by name, alternating, `--rounds` times each. Printed: requests/s and p50/p99 latency of
each, throughput edge/direct (target >= 0.9x) and the p50 the edge adds (target < 1 ms). Then 4
client threads keep requesting through the edge while the app is redeployed (a new release,
replica by replica) and while the edge reloads for a new route; and over HTTPS, while a second
app's self-signed certificate is renewed (the renewal window widened to make it due): failed
requests (target 0).

    .venv/bin/python bench/edge.py [--rounds 3] [--requests 4000] [--workers 8]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
HOME = Path(tempfile.mkdtemp(prefix="dockyard-bench-edge-"))
os.environ.update(DOCKYARD_HOME=str(HOME / "home"), DOCKYARD_CONFIG_STORE=f"sqlite:///{HOME}/home/config.db",
                  DOCKYARD_SECRET_KEY_FILE=str(HOME / "keys" / "secret.key"), DOCKYARD_USER="bench")

import docker  # noqa: E402

from dockyard.router.edge import Edge  # noqa: E402
from tests.apps import make_app  # noqa: E402
from tests.conftest import remove_app_resources  # noqa: E402
from tests.integration.bluegreen.load import Load  # noqa: E402
from tests.ports import free_port  # noqa: E402

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
DOMAIN = "bench.test"


def cli(*args: str, cwd: Path | None = None) -> str:
    result = subprocess.run([DOCKYARD, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"bench: dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


@dataclass(frozen=True)
class Run:
    rps: float
    p50: float  # seconds
    p99: float
    errors: int


def hey(url: str, requests: int, workers: int, host: str | None = None) -> Run:
    argv = ["hey", "-n", str(requests), "-c", str(workers), "-t", "5"]
    if host:
        argv += ["-host", host]
    out = subprocess.run([*argv, url], capture_output=True, text=True, timeout=60, check=True).stdout

    def number(pattern: str) -> float:
        found = re.search(pattern, out)
        if found is None:
            raise SystemExit(f"bench: hey printed no {pattern!r}:\n{out}")
        return float(found.group(1))

    ok = sum(int(n) for n in re.findall(r"\[2\d\d\]\s+(\d+) responses", out))
    return Run(number(r"Requests/sec:\s+([\d.]+)"), number(r"50%+ in ([\d.]+) secs"), number(r"99%+ in ([\d.]+) secs"),
               requests - ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    client = docker.from_env()
    edge_port, https_port = free_port(), free_port()
    env = f"  site:\n    engine: local\n    registry: local\n    domains: [{DOMAIN}]\n"
    app = make_app(HOME / "apps", replicas=1, extra_envs=env)
    secure = make_app(HOME / "apps", replicas=1, extra_envs=env.replace(DOMAIN, f"secure.{DOMAIN}")
                      + "    tls: self-signed\n")
    # a whole core for the replica: the test apps' 0.2 would make its CPU quota the only thing measured
    app.write("dockyard.yml", app.spec_file.read_text().replace("cpus: 0.2", "cpus: 1.0"))
    app.commit("a whole core")
    try:
        cli("edge", "configure", "--address", "127.0.0.1", "--http-port", str(edge_port), "--https-port",
            str(https_port))
        cli("build", cwd=app.path)
        cli("config", "set", "site", "GREETING=one", cwd=app.path)
        cli("deploy", "site", cwd=app.path)
        route = Edge().route(app.name, "site")
        if route is None or not route.servers:
            raise SystemExit("bench: the app is not on the edge")
        replica = route.servers[0]
        direct_url, edge_url = f"http://{replica}/index.html", f"http://127.0.0.1:{edge_port}/index.html"
        hey(direct_url, 200, args.workers)  # warm both paths
        hey(edge_url, 200, args.workers, DOMAIN)
        direct, through = [], []
        for _ in range(args.rounds):
            direct.append(hey(direct_url, args.requests, args.workers))
            through.append(hey(edge_url, args.requests, args.workers, DOMAIN))

        def median(runs: list[Run], what: str) -> float:
            return statistics.median(getattr(r, what) for r in runs)

        print(f"bench/edge.py: {args.rounds} rounds of {args.requests} requests from {args.workers} workers (hey), "
              f"one busybox httpd replica (1 CPU), 127.0.0.1")
        for name, runs in (("direct to the replica", direct), ("through the edge", through)):
            print(f"  {name:22} {median(runs, 'rps'):9.0f} req/s  p50 {median(runs, 'p50') * 1000:6.2f} ms  "
                  f"p99 {median(runs, 'p99') * 1000:6.2f} ms  errors {sum(r.errors for r in runs)}")
        ratio = median(through, "rps") / median(direct, "rps")
        added = (median(through, "p50") - median(direct, "p50")) * 1000
        print(f"  throughput edge/direct {ratio:.2f}x (target >= 0.9x); p50 added by the edge {added:.2f} ms "
              f"(target < 1 ms)")

        load = Load(edge_url, threads=4, max_seconds=120, headers={"Host": DOMAIN}).start()
        try:
            cli("config", "set", "site", "GREETING=two", cwd=app.path)
            cli("deploy", "site", cwd=app.path)  # a new release: the replica replaced, switched at the edge
            cli("edge", "configure", "--http-port", str(edge_port))  # a reload of the whole edge
        finally:
            hits = load.stop()
        failed = [h for h in hits if h.status != 200]
        print(f"  under load through the edge: a rolling deploy and an edge reload: {len(hits)} requests, "
              f"{len(failed)} failed (target 0)")
        print(f"  a certificate renewal under an HTTPS load: {renewal_under_load(secure.path, https_port)}")
    finally:
        Edge().stop(timeout=5)
        remove_app_resources(client, app.name)
        remove_app_resources(client, secure.name)


def served_certificate(port: int, name: str) -> bytes:
    """The certificate the edge serves for `name` (the SNI), DER."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # self-signed: compared, not trusted
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=name) as tls:
        return tls.getpeercert(binary_form=True) or b""


def renewal_under_load(path: Path, https_port: int) -> str:
    """Deploy the self-signed app, then renew its certificate while 4 threads request it over HTTPS."""
    name = f"secure.{DOMAIN}"
    cli("build", cwd=path)
    cli("config", "set", "site", "GREETING=one", cwd=path)
    cli("deploy", "site", cwd=path)
    before = served_certificate(https_port, name)
    load = Load(f"https://127.0.0.1:{https_port}/index.html", threads=4, max_seconds=60, headers={"Host": name},
                verify=False, sni=name).start()
    try:
        cli("edge", "configure", "--renew-before-days", "100000")  # every certificate is due now
        cli("edge", "renew")
        cli("edge", "configure", "--renew-before-days", "30")
    finally:
        hits = load.stop()
    renewed = served_certificate(https_port, name) != before
    failed = sum(1 for h in hits if h.status != 200)
    return f"{'renewed' if renewed else 'NOT renewed'}, {len(hits)} requests, {failed} failed (target 0)"


if __name__ == "__main__":
    main()

"""Benchmark: one bad release (5 % of its answers are 500s), released three ways in the same run,
each under the same load through the host's edge: rolling with a watch, blue/green with a
post-switch watch, and a canary. Printed for each: how many user requests the bad release answered
(and how many of them failed) before it was taken back, and the time to detect it (from its first
answer to its last). Each request is a new user (no cookie kept), as many users are.

Target (issue 32): the canary exposes fewer than 10 % of what blue/green does, and detects within
its first step's pause.

The three are measured at each load of `--threads` (client threads, as many requests as they can
make): a release failing 5 % of its requests answers about 20 of them before its first 500 whatever
its weight, so the canary's exposure has that floor, while blue/green's is the full traffic of its
time to detect and switch back. The ratio falls as the load rises; each load's is printed.

    .venv/bin/python bench/canary.py [--pause 20] [--rounds 3] [--threads 4,32]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from dockyard.router.edge import Edge  # noqa: E402
from dockyard.router.nginx import NginxRouter  # noqa: E402
from tests.apps import make_app  # noqa: E402
from tests.conftest import remove_app_resources  # noqa: E402
from tests.e2e.test_canary import BASE_DELAY, CANARY_CGI  # noqa: E402
from tests.integration.bluegreen.load import Hit, Load  # noqa: E402
from tests.ports import free_port  # noqa: E402

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
RULES = "max_5xx_ratio: 0.01, min_requests: 20, interval: 1s"


def envs(pause: int) -> str:
    live, preview = free_port(), free_port()
    watch = f"    watch: {{for: {pause}s, {RULES}}}\n"
    return ("  rolled:\n    engine: local\n    registry: local\n    strategy: rolling\n    domains: [rolled.bench]\n"
            + watch +
            f"  bg:\n    engine: local\n    registry: local\n    strategy: blue-green\n    domains: [bg.bench]\n"
            f"    router: {{live: {live}, preview: {preview}}}\n" + watch +
            f"  canary:\n    engine: local\n    registry: local\n    strategy: canary\n    domains: [canary.bench]\n"
            f"    canary:\n      steps: [{{weight: 5, pause: {pause}s}}, {{weight: 25, pause: {pause}s}}, "
            f"{{weight: 50, pause: {pause}s}}]\n      analysis: {{{RULES}}}\n")


def dockyard(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([DOCKYARD, *args], cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"bench: dockyard {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def release_good(app_path: Path, env: str) -> str:
    """The first release of `env`: it stays live through every round (each bad one is taken back)."""
    dockyard("config", "set", env, "GREETING=one", f"DELAY_US={BASE_DELAY}", cwd=app_path)
    dockyard("deploy", env, cwd=app_path)
    return str(json.loads(dockyard("releases", env, "--json", cwd=app_path).stdout)[0]["release_id"])


def release_bad(app_path: Path, env: str, port: int, round_: int, threads: int) -> tuple[list[Hit], float]:
    """A new bad release deployed to `env` under load: every hit, and how long the deploy took."""
    dockyard("config", "set", env, "FAIL_PERCENT=5", f"ROUND={round_}", cwd=app_path)
    load = Load(f"http://127.0.0.1:{port}/cgi-bin/release", threads=threads, pause=0.0, sticky=False,
                headers={"Host": f"{env}.bench"}, max_seconds=300).start()
    time.sleep(2)  # the release before answers a while first: the watches' baseline
    began = time.monotonic()
    done = dockyard("deploy", env, cwd=app_path, check=False)
    took = time.monotonic() - began
    time.sleep(2)
    hits = load.stop()
    if done.returncode == 0:
        raise SystemExit(f"bench: the bad release was not taken back in {env}:\n{done.stdout}")
    return hits, took


def exposure(hits: list[Hit], good: str) -> tuple[int, int, float]:
    """(requests the bad release answered, of which failed, seconds from its first answer to its last)."""
    bad = [h for h in hits if h.status is not None and h.body.split(" ")[0] != good]
    if not bad:
        return 0, 0, 0.0
    return len(bad), sum(h.status != 200 for h in bad), max(h.done for h in bad) - min(h.sent for h in bad)


Results = dict[str, list[float]]  # env -> [requests, bad answered, failed, seconds exposed, deploy seconds]
NAMES = (("rolling + watch", "rolled"), ("blue/green + watch", "bg"), ("canary", "canary"))


def measure(app_path: Path, port: int, good: dict[str, str], threads: int, rounds: int, first: int) -> Results:
    results: Results = {env: [0.0] * 5 for _, env in NAMES}
    for n in range(rounds):
        for _, env in NAMES:
            hits, took = release_bad(app_path, env, port, first + n, threads)
            for i, value in enumerate((len(hits), *exposure(hits, good[env]), took)):
                results[env][i] += value
    return results


def report(results: Results, threads: int, rounds: int, pause: int) -> None:
    total = sum(results[env][0] for _, env in NAMES)
    took = sum(results[env][4] + 4 for _, env in NAMES)  # each deploy, and the load's 2 s before and after
    print(f"{threads} client threads (about {total / took:.0f} requests/s through the edge):")
    print(f"  {'released as':<26} {'requests':>9} {'bad answered':>13} {'failed':>7} {'detected in':>12} {'deploy':>8}")
    for name, env in NAMES:
        requests, answered, failed, exposed, deploy = results[env]
        print(f"  {name:<26} {requests:>9.0f} {answered:>13.0f} {failed:>7.0f} {exposed / rounds:>11.1f}s "
              f"{deploy / rounds:>7.1f}s")
    bg, canary = results["bg"][1], results["canary"][1]
    ratio = canary / bg if bg else float("inf")
    print(f"  canary / blue-green requests exposed: {ratio:.3f} (target < 0.10); canary detected in "
          f"{results['canary'][3] / rounds:.1f} s on average (first step's pause: {pause} s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pause", type=int, default=20, help="seconds: each canary step's pause, each watch's length")
    parser.add_argument("--rounds", type=int, default=1, help="the three releases, this many times (summed)")
    parser.add_argument("--threads", default="4,32", help="the client loads, comma separated")
    args = parser.parse_args()
    loads = [int(t) for t in args.threads.split(",")]
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-canary-") as tmp:
        root = Path(tmp)
        os.environ.update({"DOCKYARD_HOME": str(root / "home"), "DOCKYARD_SECRET_KEY_FILE": str(root / "key"),
                           "DOCKYARD_CONFIG_STORE": f"sqlite:///{root}/home/config.db"})
        os.environ.pop("DOCKYARD_FILE", None)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        port = free_port()
        app = make_app(root, replicas=2, extra_envs=envs(args.pause))
        # a replica's whole CPU: at the higher loads the releases must not be throttled into the numbers
        app.write("dockyard.yml", app.spec_file.read_text().replace("cpus: 0.2", "cpus: 1"))
        app.write("www/cgi-bin/release", CANARY_CGI)
        app.commit("a release page")
        measured: list[tuple[int, Results]] = []
        try:
            dockyard("edge", "configure", "--http-port", str(port), cwd=app.path)
            dockyard("build", cwd=app.path)
            good = {env: release_good(app.path, env) for _, env in NAMES}
            for k, threads in enumerate(loads):
                measured.append((threads, measure(app.path, port, good, threads, args.rounds, k * args.rounds)))
        finally:
            NginxRouter(app.name, "bg", home=root / "home").stop(timeout=5)
            remove_app_resources(client, app.name)
            Edge(home=root / "home").stop(timeout=5)
    print(f"one bad release (5 % 500s) through the edge, each request a new user; canary steps 5/25/50 % of "
          f"{args.pause} s, watches of {args.pause} s; {args.rounds} round(s) per load, requests summed, times "
          "averaged")
    for threads, results in measured:
        report(results, threads, args.rounds, args.pause)


if __name__ == "__main__":
    main()

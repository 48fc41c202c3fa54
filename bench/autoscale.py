"""Benchmark: how fast the autoscaler reacts, against what its configuration implies.

A blue-green app with a CPU-burning endpoint (cpus 0.25, cpu_target 50, min 1, max 3) behind its
nginx balancer, the host agent and `dockyard autoscale run` as processes. Per round: a sustained
breach (3 client threads on the live 127.0.0.1 port) until the service reaches max, then no load
until it is back at min. Printed per round, measured next to implied:

  breach -> first scale-out decision      implied: one evaluation period + one agent sweep
  decision -> new replica answering        the container's start + health check + nginx reload
  breach -> new replica answering through the balancer
  load end -> scale-in decision            implied: the scale-down window (+ one sweep + up to one period)
  load end -> back at min (drained, stopped)

    .venv/bin/python bench/autoscale.py [--rounds 2] [--period 2s] [--window 12s]
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.integration.bluegreen.helpers import cleanup  # noqa: E402
from tests.integration.bluegreen.load import Load, failures, non_2xx  # noqa: E402
from tests.integration.scale.helpers import (  # noqa: E402
    DOCKYARD,
    Processes,
    make_scale_app,
    serving_count,
    wait_for_count,
)


def cli(app_path: Path, *args: str) -> str:
    return subprocess.run([DOCKYARD, *args], cwd=app_path, check=True, capture_output=True, text=True).stdout


def decisions(app_path: Path) -> list[dict]:
    return json.loads(cli(app_path, "autoscale", "events", "--json", "--limit", "10000"))


def one_round(app, live: int, wall: float) -> dict[str, float]:
    """wall: time.time() - time.monotonic(), to put the events' wall times on the load's clock."""
    before = {e["id"] for e in decisions(app.path)}
    known = set()
    warm = Load(f"http://127.0.0.1:{live}/cgi-bin/burn", threads=1, max_requests=20, max_seconds=5).start()
    time.sleep(1)
    known = {h.body.split()[-1] for h in warm.stop() if h.status == 200}
    load = Load(f"http://127.0.0.1:{live}/cgi-bin/burn", threads=3, pause=0.0, max_requests=50_000,
                max_seconds=90)
    breach = time.monotonic()
    load.start()
    try:
        wait_for_count(app, 3, 80)
        time.sleep(1.0)
    finally:
        hits = load.stop()
    ended = time.monotonic()
    wait_for_count(app, 1, 120)
    back = time.monotonic() - ended
    new = [e for e in reversed(decisions(app.path)) if e["id"] not in before and e["action"] != "hold"]
    out_at = next(e["at"] - wall for e in new if e["action"] == "scale-out")
    in_at = next(e["at"] - wall for e in new if e["action"] == "scale-in")
    answered = min(h.done for h in hits if h.status == 200 and h.body.split()[-1] not in known)
    return {"decide": out_at - breach, "start": answered - out_at, "answer": answered - breach,
            "in_decide": in_at - ended, "in_done": back, "requests": len(hits),
            "failed": len(failures(hits)) + len(non_2xx(hits))}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--period", default="2s")
    parser.add_argument("--window", default="12s")
    args = parser.parse_args()
    client = docker.from_env()
    rows = []
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-scale-") as tmp:
        root = Path(tmp)
        os.environ.update({"DOCKYARD_HOME": str(root / "home"), "DOCKYARD_SECRET_KEY_FILE": str(root / "key"),
                           "DOCKYARD_CONFIG_STORE": f"sqlite:///{root}/home/config.db"})
        os.environ.pop("DOCKYARD_FILE", None)
        app, live = make_scale_app(root, period=args.period, down_window=args.window)
        procs = Processes(root / "logs")
        try:
            cli(app.path, "build")
            cli(app.path, "config", "set", "production", "GREETING=bench")
            cli(app.path, "deploy", "production")
            procs.autoscaler(procs.agent(app.name, app.path), app.path)
            from dockyard.scale.policy import Policy
            from dockyard.spec import load_spec

            policy = Policy.from_spec(load_spec(app.spec_file).environment("production").scaling["web"])
            wait_for_count(app, 1, 10)
            wall = time.time() - time.monotonic()
            for _ in range(args.rounds):
                rows.append(one_round(app, live, wall))
            assert serving_count(app) == 1
        finally:
            procs.stop_all()
            cleanup(client, app, root / "home")
            for tag in [t for i in client.images.list() for t in i.tags if t.split("/")[-1].startswith(app.name)]:
                client.images.remove(tag, force=True)
    sweep = 1.0  # the agent's --interval
    implied_out = policy.period + sweep
    implied_in = policy.down_window + sweep + policy.period  # last hot sample lags a sweep; ticks a period
    print(f"autoscaler: period {policy.period:g}s x 1 evaluation (target tracking), scale-up window "
          f"{policy.up_window:g}s, scale-down window {policy.down_window:g}s, agent sweep {sweep:g}s")
    print(f"{'round':>5} {'breach->decision':>17} {'decision->answer':>17} {'breach->answer':>15} "
          f"{'end->scale-in':>14} {'end->at min':>12} {'requests':>9} {'failed':>7}")
    for n, r in enumerate(rows, 1):
        print(f"{n:>5} {r['decide']:>16.1f}s {r['start']:>16.1f}s {r['answer']:>14.1f}s {r['in_decide']:>13.1f}s "
              f"{r['in_done']:>11.1f}s {r['requests']:>9.0f} {r['failed']:>7.0f}")
    ahead = f"<= {implied_out:g}s"
    print(f"implied {ahead:>14} {'(container start)':>17} {ahead + ' + start':>15} "
          f"{f'~{policy.down_window:g}..{implied_in:g}s':>14}")
    print(f"target: breach->answer within one period ({policy.period:g}s) of the implied reaction plus the start time")


if __name__ == "__main__":
    main()

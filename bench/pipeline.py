"""Benchmark: a full pipeline run (commit to production) against the same steps done directly.

Dockyard: `dockyard pipeline run` of a fresh commit of a throwaway app through testing, staging and
production (auto gates), unit test in the image, smoke tests against each environment.
Direct: for another fresh commit, the same work with docker-py: build, push to both registries,
unit test container, then per environment start the replicas, wait for health, run the smoke
test container, remove the previous replicas. Printed: both medians, the ratio (target <= 1.15x)
and commit-to-production time.

    .venv/bin/python bench/pipeline.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.apps import TestApp, make_app  # noqa: E402

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
ENVS = ["testing", "staging", "production"]


def new_commit(app: TestApp, n: int) -> str:
    app.write("www/index.html", f"round {n} {time.time()}\n")
    return app.commit(f"round {n}")


def dockyard_run(app: TestApp, env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run([DOCKYARD, "pipeline", "run"], cwd=app.path, env=env, capture_output=True, text=True)
    if result.returncode != 0 or "succeeded" not in result.stdout:
        sys.exit(f"bench: pipeline run failed:\n{result.stdout}\n{result.stderr}")
    return time.perf_counter() - start


def direct_run(app: TestApp, n: int) -> float:
    """The same steps as a script of plain docker-py calls, in a fresh process like `dockyard` is."""
    start = time.perf_counter()
    subprocess.run([sys.executable, str(REPO / "bench/direct_pipeline.py"), str(app.path), app.name, str(n)],
                   check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        root = Path(tmp)
        app = make_app(root, required="[]")
        # Auto gates, and `recreate` everywhere: the direct path starts all new replicas at once too.
        spec = app.spec_file.read_text().replace("promote: manual", "promote: auto")
        spec = re.sub(r"(\w+): \{engine: local, registry: (\w+)(, strategy: [\w-]+)?",
                      r"\1: {engine: local, registry: \2, strategy: recreate", spec)
        app.write("dockyard.yml", spec)
        app.commit("auto gates for the bench")
        assert spec.count("strategy: recreate") == 3, spec
        env = {**os.environ, "DOCKYARD_HOME": str(root / "home"), "DOCKYARD_SECRET_KEY_FILE": str(root / "key"),
               "DOCKYARD_CONFIG_STORE": f"sqlite:///{root}/home/config.db", "DOCKYARD_RUN": "/run/dockyard-bench"}
        for env_name in ENVS:
            subprocess.run([DOCKYARD, "config", "set", env_name, f"GREETING=hi-{env_name}"], cwd=app.path, env=env,
                           check=True, capture_output=True)
        ours, theirs = [], []
        try:
            for n in range(args.rounds):
                new_commit(app, 2 * n)
                ours.append(dockyard_run(app, env))
                new_commit(app, 2 * n + 1)
                theirs.append(direct_run(app, n))
        finally:
            for label in (f"dockyard.app={app.name}", f"bench-app={app.name}", "bench=pipeline"):
                for c in client.containers.list(all=True, filters={"label": label}):
                    c.remove(force=True)
                for n in client.networks.list(filters={"label": label}):  # dockyard-APP-ENV
                    n.remove()
            for image in client.images.list():
                for tag in image.tags:
                    if tag.split("/")[-1].startswith(f"{app.name}:"):
                        client.images.remove(tag, force=True)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"commit to production, 3 environments x 2 replicas, median of {args.rounds} rounds:")
    print(f"  dockyard pipeline run   {a:6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in ours)})")
    print(f"  the same steps directly {b:6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in theirs)})")
    print(f"  overhead ratio          {a / b:6.2f}x  (target <= 1.15x)")
    print(f"  commit-to-production    {a:6.2f} s")


if __name__ == "__main__":
    main()

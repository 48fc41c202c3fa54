"""Benchmark: a full pipeline run (commit to production) against the same steps done directly.

Dockyard: `dockyard pipeline run` of a fresh commit of a throwaway app through testing, staging and
production (auto gates), unit test in the image, smoke tests against each environment.
Direct: for another fresh commit, the same work with docker-py: build, push to both registries,
unit test container, then per environment start the replicas, wait for health, run the smoke
test container, remove the previous replicas. Printed: both medians, the ratio (target <= 1.15x)
and commit-to-production time.

Then a loud build: a Dockerfile step printing 300,000 lines (`seq 300000 | sed 's/^/line /'` on the
local busybox base), as Dockyard's build step in a pipeline run (its start to its end, every line
into the run's output) against `docker build` of the same context alone (the legacy builder, as
Dockyard's engine uses, and the image labels Dockyard sets: that builder makes a step of each, about
0.15 s apiece), each round a new step so neither reuses the other's cache. Printed: both medians and
the ratio (target <= 1.5x), and `docker build` without the labels for reference.

    .venv/bin/python bench/pipeline.py [--rounds 3] [--only pipeline|loud-build]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from dockyard.build.builder import image_labels  # noqa: E402
from dockyard.build.git import Commit  # noqa: E402
from dockyard.pipeline.store import RunStore  # noqa: E402
from dockyard.state.db import StateDB  # noqa: E402
from tests.apps import DOCKERFILE, TestApp, make_app  # noqa: E402

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
ENVS = ["testing", "staging", "production"]
LOUD_LINES = 300_000


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
    parser.add_argument("--only", choices=["pipeline", "loud-build"])
    args = parser.parse_args()
    client = docker.from_env()
    if args.only != "loud-build":
        pipeline_row(client, args.rounds)
    if args.only != "pipeline":
        loud_build_row(client, args.rounds)


def remove_bench_resources(client: docker.DockerClient, app: TestApp) -> None:
    for label in (f"dockyard.app={app.name}", f"bench-app={app.name}", "bench=pipeline"):
        for c in client.containers.list(all=True, filters={"label": label}):
            c.remove(force=True)
        for n in client.networks.list(filters={"label": label}):  # dockyard-APP-ENV
            n.remove()
    for image in client.images.list():
        for tag in image.tags:
            if tag.split("/")[-1].startswith(f"{app.name}:"):
                client.images.remove(tag, force=True)


def site_env(root: Path) -> dict[str, str]:
    return {**os.environ, "DOCKYARD_HOME": str(root / "home"), "DOCKYARD_SECRET_KEY_FILE": str(root / "key"),
            "DOCKYARD_CONFIG_STORE": f"sqlite:///{root}/home/config.db", "DOCKYARD_RUN": "/run/dockyard-bench"}


def loud_dockerfile() -> str:
    """A step no earlier build has (a new nonce): its output is printed, never taken from the cache."""
    return DOCKERFILE + f"RUN echo {secrets.token_hex(8)} && seq {LOUD_LINES} | sed 's/^/line /'\n"


def dockyard_build_step(app: TestApp, env: dict[str, str], home: Path) -> float:
    """A pipeline run of a new commit whose build prints LOUD_LINES lines: its build step's seconds."""
    app.write("Dockerfile", loud_dockerfile())
    app.commit("a loud build")
    result = subprocess.run([DOCKYARD, "pipeline", "run", "--json"], cwd=app.path, env=env, capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.exit(f"bench: pipeline run failed:\n{result.stdout}\n{result.stderr}")
    db = StateDB(home / "state.db")
    try:
        store = RunStore(db)
        run_id = int(json.loads(result.stdout)["id"])
        build = store.steps(run_id, output=False)[0]
        assert build.kind == "build" and build.lines >= LOUD_LINES, build
        assert build.started_at is not None and build.ended_at is not None
        return build.ended_at - build.started_at
    finally:
        db.close()


def docker_build(app: TestApp, root: Path, name: str, labels: dict[str, str]) -> float:
    """`docker build` of the same context with a step of its own, its output read (and dropped) whole."""
    context = root / f"docker-build-{name}"
    shutil.copytree(app.path, context, ignore=shutil.ignore_patterns(".git"))
    (context / "Dockerfile").write_text(loud_dockerfile())
    flags = [arg for key, value in labels.items() for arg in ("--label", f"{key}={value}")]
    start = time.perf_counter()
    built = subprocess.run(["docker", "build", *flags, "-t", f"{app.name}:docker-{name}", str(context)],
                           env={**os.environ, "DOCKER_BUILDKIT": "0"}, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)  # stderr: the legacy builder's deprecation notice
    seconds = time.perf_counter() - start
    if built.returncode != 0:
        sys.exit(f"bench: docker build failed:\n{built.stderr}")
    return seconds


def loud_build_row(client: docker.DockerClient, rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-loud-") as tmp:
        root = Path(tmp)
        app = make_app(root, required="[]")
        app.write("dockyard.yml", app.spec_file.read_text() + "pipeline:\n  branches: {main: [testing]}\n")
        app.commit("only testing: the build is what is measured")
        env = site_env(root)
        subprocess.run([DOCKYARD, "config", "set", "testing", "GREETING=hi"], cwd=app.path, env=env, check=True,
                       capture_output=True)
        # The same build as Dockyard's: its image labels too (the legacy builder makes a step of each)
        labels = image_labels(Commit(sha=app.git("rev-parse", "HEAD"), branch="main", dirty=False, diff_hash=None))
        ours, theirs, unlabelled = [], [], []
        try:
            for n in range(rounds):
                ours.append(dockyard_build_step(app, env, root / "home"))
                theirs.append(docker_build(app, root, f"{n}", labels))
                unlabelled.append(docker_build(app, root, f"{n}-plain", {}))
        finally:
            remove_bench_resources(client, app)
    a, b, c = (statistics.median(times) for times in (ours, theirs, unlabelled))
    print(f"a build printing {LOUD_LINES:,} lines, median of {rounds} rounds:")
    print(f"  dockyard's build step   {a:6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in ours)})")
    print(f"  docker build alone      {b:6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in theirs)})")
    print(f"  ratio                   {a / b:6.2f}x  (target <= 1.5x)")
    print(f"  (docker build without Dockyard's {len(labels)} image labels: {c:.2f} s, "
          f"runs: {', '.join(f'{t:.2f}' for t in unlabelled)})")


def pipeline_row(client: docker.DockerClient, rounds: int) -> None:
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
        env = site_env(root)
        for env_name in ENVS:
            subprocess.run([DOCKYARD, "config", "set", env_name, f"GREETING=hi-{env_name}"], cwd=app.path, env=env,
                           check=True, capture_output=True)
        ours, theirs = [], []
        try:
            for n in range(rounds):
                new_commit(app, 2 * n)
                ours.append(dockyard_run(app, env))
                new_commit(app, 2 * n + 1)
                theirs.append(direct_run(app, n))
        finally:
            remove_bench_resources(client, app)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"commit to production, 3 environments x 2 replicas, median of {rounds} rounds:")
    print(f"  dockyard pipeline run   {a:6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in ours)})")
    print(f"  the same steps directly {b:6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in theirs)})")
    print(f"  overhead ratio          {a / b:6.2f}x  (target <= 1.15x)")
    print(f"  commit-to-production    {a:6.2f} s")


if __name__ == "__main__":
    main()

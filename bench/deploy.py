"""Benchmark: `dockyard deploy` of 3 replicas against the same work done with raw docker-py calls.

Both sides run as a fresh process (a user runs a command or a script), start 3 containers of the
same image on 127.0.0.1 ports, and wait for the same HTTP health check. Printed: the median of
ROUNDS runs for each and the ratio (target: at most 1.3x).

    .venv/bin/python bench/deploy.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.apps import make_app  # noqa: E402

DOCKYARD = str(Path(sys.executable).parent / "dockyard")

RAW = r"""
import sys, time, docker, httpx
image, label = sys.argv[1], sys.argv[2]
client = docker.from_env()
containers = []
for n in range(3):
    c = client.containers.create(image, command=["httpd", "-f", "-p", "8080", "-h", "/www"], detach=True,
                                 ports={"8080/tcp": ("127.0.0.1", None)}, labels={"bench": label}, init=True)
    c.start()
    containers.append(c)
for c in containers:
    while True:
        c.reload()
        port = c.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
"""


def run(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def remove(client: docker.DockerClient, label: str) -> None:
    for c in client.containers.list(all=True, filters={"label": label}):
        c.remove(force=True)
    for n in client.networks.list(filters={"label": label}):  # dockyard-APP-ENV
        n.remove()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        root = Path(tmp)
        app = make_app(root, replicas=3, required="[]")
        env = {**os.environ, "DOCKYARD_HOME": str(root / "home"), "DOCKYARD_SECRET_KEY_FILE": str(root / "key"),
               "DOCKYARD_CONFIG_STORE": f"sqlite:///{root}/home/config.db"}
        env.pop("DOCKYARD_FILE", None)
        subprocess.run([DOCKYARD, "build"], env=env, cwd=app.path, check=True, capture_output=True)
        subprocess.run([DOCKYARD, "config", "set", "testing", "GREETING=bench"], env=env, cwd=app.path, check=True,
                       capture_output=True)
        image = json.loads(subprocess.run([DOCKYARD, "deploy", "testing", "--dry-run", "--json"], env=env,
                                          cwd=app.path, check=True, capture_output=True, text=True).stdout)["image"]
        dockyard_times, raw_times = [], []
        try:
            for _ in range(args.rounds):
                # the deploy itself, as the raw run does it: its endpoint tests are a step of their own
                dockyard_times.append(run([DOCKYARD, "deploy", "testing", "--skip-tests"], env, app.path))
                remove(client, f"dockyard.app={app.name}")
                raw_times.append(run([sys.executable, "-c", RAW, image, app.name], env, app.path))
                remove(client, f"bench={app.name}")
        finally:
            remove(client, f"dockyard.app={app.name}")
            remove(client, f"bench={app.name}")
            for tag in [t for i in client.images.list() for t in i.tags if t.split("/")[-1].startswith(app.name)]:
                client.images.remove(tag, force=True)
    ours, theirs = statistics.median(dockyard_times), statistics.median(raw_times)
    print(f"deploy of 3 replicas, median of {args.rounds} rounds (fresh process each):")
    print(f"  dockyard deploy         {ours:6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in dockyard_times)})")
    print(f"  raw docker-py + health  {theirs:6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in raw_times)})")
    print(f"  ratio dockyard/raw      {ours / theirs:6.2f}x  (target <= 1.3x)")


if __name__ == "__main__":
    main()

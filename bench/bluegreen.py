"""Benchmark: 10 blue/green switches under load against 10 naive stop-then-start replacements.

The same image, the same load (4 client threads on one 127.0.0.1 port, every request recorded),
the same number of releases. Printed for both: requests, failed requests, non-2xx answers, and the
switch time from the decision to switch to the first response from the new release (p50, p99).
Then the rollback time: in-process, and through the `dockyard rollback` command (process start to
the first response from the restored release), run on its own and forwarded to a running server.

    .venv/bin/python bench/bluegreen.py [--switches 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.integration.bluegreen.helpers import cleanup, make_bg_app  # noqa: E402
from tests.integration.bluegreen.load import Load, failures, first_answer_from, non_2xx  # noqa: E402
from tests.ports import free_port  # noqa: E402

DOCKYARD = str(Path(sys.executable).parent / "dockyard")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_for(load: Load, release: str, after: float, limit: float = 15.0) -> float:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        first = first_answer_from(load.hits, release, after)
        if first is not None:
            return first - after
        time.sleep(0.01)
    raise SystemExit(f"bench: release {release} never answered within {limit:g}s")


def line(name: str, hits: list, times: list[float]) -> str:
    return (f"  {name:24} requests {len(hits):6}  failed {len(failures(hits)):4}  non-2xx {len(non_2xx(hits)):4}  "
            f"switch p50 {pct(times, 0.5) * 1000:7.1f} ms  p99 {pct(times, 0.99) * 1000:7.1f} ms")


def blue_green(app_path: Path, live: int, switches: int, server: dict[str, str]
               ) -> tuple[list, list[float], list[float], list[float], list[float]]:
    from dockyard.config.service import open_config_service
    from dockyard.deploy.deployer import Deployer
    from dockyard.deploy.promote import rollback
    from dockyard.spec import load_spec
    from dockyard.state.db import StateDB

    decided: list[float] = []

    def report(text: str) -> None:
        if text.startswith("switch "):
            decided.append(time.monotonic())

    from dockyard.scale.counts import deploy_counts

    deployer = Deployer(load_spec(app_path / "dockyard.yml"), open_config_service(), StateDB(), report,
                        counts=deploy_counts)
    config = open_config_service()
    config.set("production", deployer.spec.app, {"GREETING": "bench-0"}, "bench")
    deployer.deploy("production")
    load = Load(f"http://127.0.0.1:{live}/cgi-bin/release", max_seconds=300).start()
    switch_times, rollback_times, cli_times, server_times = [], [], [], []
    try:
        time.sleep(0.5)
        for n in range(1, switches + 1):
            config.set("production", deployer.spec.app, {"GREETING": f"bench-{n}"}, "bench")
            outcome = deployer.deploy("production")
            switch_times.append(wait_for(load, outcome.release_id, decided[-1]))
        # The releases were deployed in this process; from the shell, `dockyard deploy` keeps the
        # spec's brief (spec/brief.py) that a rollback reads. One untimed status does the same here:
        # the first command after dockyard.yml changed validates it whole (about 120 ms more).
        subprocess.run([DOCKYARD, "status", "production"], cwd=app_path, capture_output=True, check=True)
        for _ in range(3):
            start = time.monotonic()
            outcome = rollback(deployer, "production")
            rollback_times.append(wait_for(load, outcome.release_id, start))
            command_rollback(deployer, app_path, load, cli_times, {})
            command_rollback(deployer, app_path, load, server_times, server)
        time.sleep(0.3)
    finally:
        hits = load.stop()
    return hits, switch_times, rollback_times, cli_times, server_times


def command_rollback(deployer, app_path: Path, load: Load, times: list[float], extra_env: dict[str, str]) -> None:
    """`dockyard rollback production` in a new process: the time from its start to the first answer
    from the release it restores."""
    live = deployer.db.live_release(deployer.spec.app, "production")
    target = next(r for r in deployer.db.releases(deployer.spec.app, "production")
                  if r.status == "superseded" and r.release_id != live.release_id)
    start = time.monotonic()
    proc = subprocess.Popen([DOCKYARD, "rollback", "production"], cwd=app_path, stdout=subprocess.DEVNULL,
                            env={**os.environ, **extra_env})
    times.append(wait_for(load, target.release_id, start))
    if proc.wait(30) != 0:
        raise SystemExit(f"bench: dockyard rollback exited {proc.returncode}")


@contextmanager
def running_server(root: Path) -> Iterator[dict[str, str]]:
    """A `dockyard server` on a free port, and the environment that forwards rollbacks to it."""
    port = free_port()
    token_file = root / "token"
    token_file.write_text(subprocess.run([DOCKYARD, "token", "create", "--name", "bench", "--scope", "deploy",
                                                          "--env", "production"], check=True,
                                         capture_output=True, text=True).stdout)
    with (root / "server.log").open("wb") as log:
        proc = subprocess.Popen([DOCKYARD, "server", "--listen", f"127.0.0.1:{port}"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("bench: dockyard server did not start; see " + str(root / "server.log")) from None
                time.sleep(0.1)
        yield {"DOCKYARD_SERVER": f"http://127.0.0.1:{port}", "DOCKYARD_TOKEN_FILE": str(token_file)}
    finally:
        proc.terminate()
        proc.wait(20)


def naive(client: docker.DockerClient, image: str, label: str, switches: int) -> tuple[list, list[float]]:
    port = free_port()

    def run(n: int):
        return client.containers.run(image, command=["httpd", "-f", "-p", "8080", "-h", "/www"], detach=True,
                                     ports={"8080/tcp": ("127.0.0.1", port)}, labels={"bench": label},
                                     environment={"DOCKYARD_RELEASE": f"naive-{n}"}, init=True,
                                     user="65534:65534")

    current = run(0)
    load = Load(f"http://127.0.0.1:{port}/cgi-bin/release", max_seconds=300)
    time.sleep(0.5)
    load.start()
    times = []
    try:
        wait_for(load, "naive-0", 0.0)
        for n in range(1, switches + 1):
            decided = time.monotonic()
            current.stop(timeout=2)
            current.remove(force=True)
            current = run(n)
            times.append(wait_for(load, f"naive-{n}", decided))
            time.sleep(0.5)
    finally:
        hits = load.stop()
    return hits, times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--switches", type=int, default=10)
    args = parser.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-bg-") as tmp:
        root = Path(tmp)
        os.environ.update({"DOCKYARD_HOME": str(root / "home"), "DOCKYARD_SECRET_KEY_FILE": str(root / "key"),
                           "DOCKYARD_CONFIG_STORE": f"sqlite:///{root}/home/config.db"})
        os.environ.pop("DOCKYARD_FILE", None)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user's shell: the bytecode cache kept
        app, live, _ = make_bg_app(root)
        label = f"bench-{app.name}"
        try:
            subprocess.run([DOCKYARD, "build"], cwd=app.path, check=True, capture_output=True)
            # the server rolls back with the registered app's dockyard.yml (its default branch)
            subprocess.run([DOCKYARD, "app", "add", app.name, "--repo", str(app.path)], check=True, capture_output=True)
            with running_server(root) as server:
                bg_hits, bg_times, rb_times, cli_times, server_times = blue_green(app.path, live, args.switches,
                                                                                  server)
            image = client.containers.list(filters={"label": f"dockyard.app={app.name}"})[0].attrs["Config"]["Image"]
            naive_hits, naive_times = naive(client, image, label, args.switches)
        finally:
            for c in client.containers.list(all=True, filters={"label": f"bench={label}"}):
                c.remove(force=True)
            cleanup(client, app, root / "home")
            for tag in [t for i in client.images.list() for t in i.tags if t.split("/")[-1].startswith(app.name)]:
                client.images.remove(tag, force=True)
    print(f"{args.switches} releases under load (4 client threads, 127.0.0.1):")
    print(line("blue-green (nginx)", bg_hits, bg_times))
    print(line("naive stop-then-start", naive_hits, naive_times))
    print(f"  rollback in-process      {', '.join(f'{t * 1000:.0f}' for t in rb_times)} ms (decision -> first answer)")
    print(f"  rollback command         {', '.join(f'{t * 1000:.0f}' for t in cli_times)} ms "
          "(process start -> first answer)")
    print(f"  rollback command, server {', '.join(f'{t * 1000:.0f}' for t in server_times)} ms "
          "(the same, forwarded to a running `dockyard server` by DOCKYARD_SERVER)")
    print("  targets: 0 failed; switch p99 < 1000 ms; rollback < 1000 ms")


if __name__ == "__main__":
    main()

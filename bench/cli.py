"""Benchmark: the read commands of `dockyard`, whole process, against `python -c pass` and `docker ps`.

Set up on its own, under a private DOCKYARD_HOME (config store, secret key and DOCKYARD_RUN too):
a throwaway app (tests/apps.py, 2 replicas of a busybox web service) built once, its configuration
and a secret in each of its three environments, deployed to testing and promoted to staging and
production on the local engine (as `make demo` does), a read token, a few log lines, and a host
agent on a free 127.0.0.1 port (what `dockyard events` reads; started with --no-logs, so `logs`
reads the engine, as after `make demo`). Then every command runs ROUNDS times, each time as a fresh
process, wall clock from spawn to exit, output read and dropped. The commands are interleaved round
by round, each round in a rotated order, after one untimed warm-up round. Printed: one table with
the median and p90 of each command, its ratio to the medians of `python -c pass` (the venv's
Python, as `dockyard` starts) and `docker ps` measured in the same rounds, whether every run exited
0, and whether its median is under issue 30's target of 150 ms. At the end everything is removed:
the agent, `dockyard down ENV --purge --yes` of each environment, the app's images, and whatever
else carries its label.

    .venv/bin/python bench/cli.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.apps import TestApp, make_app  # noqa: E402

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
DOCKER = shutil.which("docker") or "docker"
ENVS = ("testing", "staging", "production")
TARGET_MS = 150.0


@dataclass
class Command:
    label: str
    argv: list[str]
    note: str = ""
    peer: bool = False
    times: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # the first lines of a failed run's stderr


def commands() -> list[Command]:
    dy = [DOCKYARD]
    return [
        Command("python -c pass", [sys.executable, "-c", "pass"], "peer: the interpreter dockyard runs on",
                peer=True),
        Command("docker ps", [DOCKER, "ps"], f"peer: {DOCKER}", peer=True),
        Command("dockyard ps", dy + ["ps"], "3 envs x 2 replicas"),
        Command("dockyard status production", dy + ["status", "production"]),
        Command("dockyard releases production", dy + ["releases", "production"]),
        Command("dockyard config ls production", dy + ["config", "ls", "production"]),
        Command("dockyard config get production GREETING", dy + ["config", "get", "production", "GREETING"]),
        Command("dockyard config diff staging production", dy + ["config", "diff", "staging", "production"]),
        Command("dockyard logs production --limit 20", dy + ["logs", "production", "--limit", "20"],
                "no log store: from the engine"),
        Command("dockyard events", dy + ["events"], "from the bench's agent"),
        Command("dockyard audit", dy + ["audit"]),
        Command("dockyard pipeline ls", dy + ["pipeline", "ls"], "no runs (a run is a whole pipeline)"),
        Command("dockyard token ls", dy + ["token", "ls"], "1 token"),
        Command("dockyard edge status", dy + ["edge", "status"], "no routes: the app has no domains"),
        Command("dockyard backup ls production", dy + ["backup", "ls", "production"],
                "empty store: the app has no accessory or volume"),
        Command("dockyard --help", dy + ["--help"]),
        Command("dockyard deploy --help", dy + ["deploy", "--help"]),
    ]


def site_env(root: Path, app: TestApp) -> dict[str, str]:
    """The private site every command of the bench runs in; nothing forwarded to a running server."""
    # PYTHONDONTWRITEBYTECODE (set in some CI shells) would compile every module of dockyard from
    # source on every run: a user's shell keeps the bytecode cache, so the bench does too
    env = {k: v for k, v in os.environ.items()
           if k not in ("DOCKYARD_FILE", "DOCKYARD_SERVER", "DOCKYARD_TOKEN_FILE", "DOCKYARD_LOG_STORE",
                        "DOCKYARD_BACKUP_STORE", "DOCKYARD_AGENT", "PYTHONDONTWRITEBYTECODE")}
    home = root / "home"
    env.update({"DOCKYARD_HOME": str(home), "DOCKYARD_CONFIG_STORE": f"sqlite:///{home}/config.db",
                "DOCKYARD_SECRET_KEY_FILE": str(root / "keys" / "secret.key"), "DOCKYARD_RUN": str(root / "run"),
                "DOCKYARD_USER": "bench",
                # the checkout this file is in, whichever one the virtualenv was installed from
                "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)})
    return env


def dockyard(env: dict[str, str], cwd: Path, *args: str, stdin: str | None = None) -> str:
    """A set-up step; its failure ends the bench with the command's output."""
    result = subprocess.run([DOCKYARD, *args], env=env, cwd=cwd, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"bench: dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def set_up(app: TestApp, env: dict[str, str]) -> None:
    dockyard(env, app.path, "build")
    for name in ENVS:
        dockyard(env, app.path, "config", "set", name, f"GREETING=hello from {name}", f"DB_HOST=db.{name}.internal")
        dockyard(env, app.path, "secret", "set", name, "DB_PASSWORD", stdin=f"bench-{name}-{app.name}")
    dockyard(env, app.path, "deploy", "testing")
    dockyard(env, app.path, "promote", "testing", "staging")
    dockyard(env, app.path, "promote", "staging", "production")
    dockyard(env, app.path, "token", "create", "--name", "bench", "--scope", "read", "--expires", "1d")
    rows = json.loads(dockyard(env, app.path, "ps", "--json"))
    running = [r for r in rows if r["state"] == "running"]
    if len(running) != 2 * len(ENVS):
        raise SystemExit(f"bench: expected {2 * len(ENVS)} running replicas, `dockyard ps --json` shows {rows}")
    for row in running:  # a few lines in each replica's log (the CGI script writes its query to stderr)
        url = row["url"] or ""
        if url.startswith("http://127.0.0.1:"):
            for n in range(10):
                with urllib.request.urlopen(f"{url}/cgi-bin/log?bench-{n}", timeout=5) as response:
                    response.read()


def start_agent(app: TestApp, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`dockyard agent` for this app's containers on a free port; DOCKYARD_AGENT points `events` at it."""
    with socket.socket() as sock:  # a free port
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    with log.open("wb") as out:
        proc = subprocess.Popen([DOCKYARD, "agent", "--listen", f"127.0.0.1:{port}", "--no-logs",
                                 "--label", f"dockyard.app={app.name}"], env=env, cwd=app.path, stdout=out,
                                stderr=out)
    env["DOCKYARD_AGENT"] = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                if response.status == 200:
                    return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise SystemExit(f"bench: dockyard agent did not answer:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)


def measure(cmds: list[Command], rounds: int, env: dict[str, str], cwd: Path) -> None:
    for n in range(rounds + 1):  # round 0 warms the page cache and the bytecode caches, untimed
        shift = n % len(cmds)
        for cmd in cmds[shift:] + cmds[:shift]:
            start = time.perf_counter()
            result = subprocess.run(cmd.argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True)
            elapsed = time.perf_counter() - start
            if n == 0:
                continue
            cmd.times.append(elapsed)
            if result.returncode != 0:
                text = result.stderr.decode(errors="replace").strip() or result.stdout.decode(errors="replace")
                cmd.failures.append(f"exit {result.returncode}: " + " | ".join(text.splitlines()[:3]))


def p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def table(cmds: list[Command], rounds: int) -> str:
    python_ms = statistics.median(cmds[0].times) * 1000
    docker_ms = statistics.median(cmds[1].times) * 1000
    width = max(len(c.label) for c in cmds)
    head = (f"{'command':{width}}  {'median ms':>9}  {'p90 ms':>8}  {'x python':>8}  {'x docker ps':>11}  "
            f"{'exit 0':>10}  {'<150 ms?':>8}  note")
    lines = [f"read commands, whole process, {rounds} rounds (interleaved, fresh process each run):", head,
             "-" * len(head)]
    for c in cmds:
        median, high = statistics.median(c.times) * 1000, p90(c.times) * 1000
        ok = "yes" if not c.failures else f"no ({len(c.failures)}/{len(c.times)})"
        target = "-" if c.peer else ("yes" if median < TARGET_MS else "no")
        lines.append(f"{c.label:{width}}  {median:9.1f}  {high:8.1f}  {median / python_ms:7.1f}x  "
                     f"{median / docker_ms:10.1f}x  {ok:>10}  {target:>8}  {c.note}")
    dockyard_rows = [c for c in cmds if not c.peer]
    under = sum(statistics.median(c.times) * 1000 < TARGET_MS for c in dockyard_rows)
    lines.append(f"target (issue 30): every read command under {TARGET_MS:.0f} ms median; "
                 f"{under} of {len(dockyard_rows)} are")
    for c in cmds:
        if c.failures:
            lines.append(f"  {c.label} failed: {c.failures[0]}")
    return "\n".join(lines)


def tear_down(client: docker.DockerClient, app: TestApp, env: dict[str, str]) -> None:
    for name in ENVS:
        subprocess.run([DOCKYARD, "down", name, "--purge", "--yes"], env=env, cwd=app.path, capture_output=True)
    label = f"dockyard.app={app.name}"
    for c in client.containers.list(all=True, filters={"label": label}):
        c.remove(force=True)
    for n in client.networks.list(filters={"label": label}):  # dockyard-APP-ENV
        n.remove()
    for v in client.volumes.list(filters={"label": label}):
        v.remove(force=True)
    # with their untagged parents: the build's own label steps (its commit, its time) are new each run
    for image in client.api.images(filters={"label": "dockyard.commit"}):
        if any(tag.split("/")[-1].startswith(f"{app.name}:") for tag in image.get("RepoTags") or []):
            try:
                client.images.remove(image["Id"], force=True)
            except docker.errors.NotFound:
                pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    began = time.monotonic()
    client = docker.from_env()
    cmds = commands()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-cli-") as tmp:
        root = Path(tmp)
        app = make_app(root, secrets_mode="env")  # secrets as env vars: no tmpfs mounted for them
        env = site_env(root, app)
        agent: subprocess.Popen[bytes] | None = None
        try:
            set_up(app, env)
            agent = start_agent(app, env, root / "agent.log")
            ready = time.monotonic()
            measure(cmds, args.rounds, env, app.path)
            measured = time.monotonic()
        finally:
            if agent is not None:
                agent.terminate()
                try:
                    agent.wait(10)
                except subprocess.TimeoutExpired:
                    agent.kill()
                    agent.wait()
            tear_down(client, app, env)
    print(table(cmds, args.rounds))
    print(f"bench took {time.monotonic() - began:.0f} s: set-up {ready - began:.0f} s, "
          f"{args.rounds + 1} rounds {measured - ready:.0f} s, tear-down {time.monotonic() - measured:.0f} s")


if __name__ == "__main__":
    main()

"""Benchmark: `dockyard deploy` of 3 replicas against the same Docker work done with raw docker-py calls.

Both sides run as a fresh process (a user runs a command or a script) and pay the same Docker costs:

- raw docker-py (RAW below, one straightforward script): creates a labelled bridge network; then, one
  replica after the other, creates a named container of the same image on it, with Dockyard's
  options (user 65534, init, no-new-privileges, every capability dropped, restart unless-stopped,
  json-file logs with rotation, pids limit 1024, 32 MiB of memory, 0.2 CPU, the rendered
  /etc/app/app.conf copied in with put_archive, port 8080 published on a 127.0.0.1 port) and starts
  it; then waits for each in turn: an inspect and a GET /health on its port every 50 ms until 200.
  It imports docker-py and uses requests, which docker-py loads anyway.
- `dockyard deploy testing --skip-tests` (the endpoint tests are a step of their own, which the raw
  run does not do either): the same network (dockyard_APP_ENV, bridge, labelled; looked up by name
  first) and the same containers (Dockyard's labels and environment, a host port it picks), the
  config file copied in, each started and probed the same way (an inspect and a GET /health). Beyond
  the raw steps it loads the spec and the site settings, resolves the configuration from the config
  store (SQLite) and renders the file, inspects the image, lists what runs before (to plan) and after
  (its URLs), takes the environment's lock, and records the release (state database, the events
  outbox).

Between rounds every container and network either side made is removed, so each round starts from
nothing. Printed: the median of ROUNDS runs for each and their ratio (target: at most 1.1x), and the
median of each round's own ratio (its two runs follow each other: the figure other work on a busy
host disturbs least). With --calls, one more run of each counts its Engine API requests and health
probes, by kind.

    .venv/bin/python bench/deploy.py [--rounds 5] [--calls]
    .venv/bin/python bench/deploy.py --release-task [--rounds 7]

With --release-task it measures instead what a no-op release task (`release: {command: "true"}`)
adds to a deploy: each round deploys a new release twice from nothing, with the task and without
(the same app, a spec file each), and the difference is set against `docker run --rm IMAGE true`
(the docker client, a fresh process, the same image, on a bridge network as the task's) timed in the
same round (target: at most 1.2x).

The dockyard command runs this checkout's code (PYTHONPATH), whichever one the virtualenv was
installed from, from bytecode as an installed package does: the bench compiles the checkout's
dockyard/ first (pip compiles a package when it installs it). Where PYTHONDONTWRITEBYTECODE is set
(these machines' shells set it) nothing would write that bytecode, and every run would compile
~120 of Dockyard's modules from source (~0.2 s of a deploy) while docker-py, on the raw side, was
compiled when it was installed.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.apps import make_app  # noqa: E402

DOCKYARD = str(Path(sys.executable).parent / "dockyard")

RAW = r"""
import io, sys, tarfile, time, docker, requests
image, label, conf = sys.argv[1], sys.argv[2], sys.argv[3].encode()
client = docker.from_env()
labels = {"bench": label}
network = client.networks.create(f"bench-{label}", driver="bridge", check_duplicate=True, labels=labels)
buffer = io.BytesIO()
with tarfile.open(fileobj=buffer, mode="w") as tar:
    for directory in ("etc", "etc/app"):
        info = tarfile.TarInfo(directory)
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
    info = tarfile.TarInfo("etc/app/app.conf")
    info.size, info.mode = len(conf), 0o644
    tar.addfile(info, io.BytesIO(conf))
containers = []
for n in range(1, 4):
    c = client.containers.create(
        image, name=f"bench-{label}-web-{n}", command=["httpd", "-f", "-p", "8080", "-h", "/www"], detach=True,
        labels=labels, environment={"GREETING": "bench"}, user="65534:65534", init=True, network=network.name,
        ports={"8080/tcp": ("127.0.0.1", None)}, security_opt=["no-new-privileges:true"], cap_drop=["ALL"],
        restart_policy={"Name": "unless-stopped"},
        log_config={"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}},
        pids_limit=1024, mem_limit=32 * 1024 * 1024, nano_cpus=200_000_000)
    c.put_archive("/", buffer.getvalue())
    c.start()
    containers.append(c)
session = requests.Session()
for c in containers:
    while True:
        c.reload()
        port = c.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"]
        try:
            if session.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.05)
"""

# Run before a side's code in --calls mode: every HTTP request (Engine API over the socket, health
# probes over TCP) counted by method and path, ids and ports left out, into $BENCH_CALLS.
COUNTING = r"""
import atexit, collections, json, os, re, requests.sessions
_calls = collections.Counter()
_send = requests.sessions.Session.send
def _counted(self, request, **kwargs):
    path = re.sub(r"^/v[0-9.]+", "", request.path_url.split("?")[0])
    path = re.sub(r"/[0-9a-f]{12,64}(?=/|$)|/(?:bench-|dockyard_)[^/]+", "/{id}", path)
    path = re.sub(r"^/images/.+/json$", "/images/{ref}/json", path)
    where = "probe" if request.url.startswith("http://127.0.0.1") else "engine"
    _calls[f"{where} {request.method} {path}"] += 1
    return _send(self, request, **kwargs)
requests.sessions.Session.send = _counted
atexit.register(lambda: open(os.environ["BENCH_CALLS"], "w").write(json.dumps(_calls)))
"""

DOCKYARD_MAIN = "import sys; from dockyard.cli.remote import main; sys.argv[0] = 'dockyard'; main()"


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
    for n in client.networks.list(filters={"label": label}):  # dockyard_APP_ENV, bench-APP
        n.remove()


def count_calls(argv: list[str], env: dict[str, str], cwd: Path, root: Path) -> Counter[str]:
    out = root / "calls.json"
    run([sys.executable, "-c", COUNTING + argv[0], *argv[1:]], {**env, "BENCH_CALLS": str(out)}, cwd)
    return Counter(json.loads(out.read_text()))


def print_calls(ours: Counter[str], theirs: Counter[str]) -> None:
    print("requests of one run, by kind (dockyard / raw):")
    for kind in sorted(set(ours) | set(theirs)):
        print(f"  {ours[kind]:3d} / {theirs[kind]:3d}  {kind}")
    print(f"  {sum(ours.values()):3d} / {sum(theirs.values()):3d}  in all")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", action="store_true", help="also count each side's requests in one more run")
    parser.add_argument("--release-task", action="store_true", help="what a no-op release task adds to a deploy")
    args = parser.parse_args()
    if args.release_task:
        release_task_cost(args.rounds)
        return
    client = docker.from_env()
    compileall.compile_dir(REPO / "dockyard", quiet=1)  # to __pycache__/, as an install does (git ignores it)
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        root = Path(tmp)
        app = make_app(root, replicas=3, required="[]")
        env = {**os.environ, "DOCKYARD_HOME": str(root / "home"), "DOCKYARD_SECRET_KEY_FILE": str(root / "key"),
               "DOCKYARD_CONFIG_STORE": f"sqlite:///{root}/home/config.db",
               # the checkout this file is in, whichever one the virtualenv was installed from
               "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
        for name in ("DOCKYARD_FILE", "DOCKYARD_SERVER"):
            env.pop(name, None)
        subprocess.run([DOCKYARD, "build"], env=env, cwd=app.path, check=True, capture_output=True)
        subprocess.run([DOCKYARD, "config", "set", "testing", "GREETING=bench"], env=env, cwd=app.path, check=True,
                       capture_output=True)
        image = json.loads(subprocess.run([DOCKYARD, "deploy", "testing", "--dry-run", "--json"], env=env,
                                          cwd=app.path, check=True, capture_output=True, text=True).stdout)["image"]
        ours_argv = [DOCKYARD_MAIN, "deploy", "testing", "--skip-tests"]
        raw_argv = [RAW, image, app.name, "greeting=bench\n"]
        dockyard_times, raw_times = [], []
        try:
            for _ in range(args.rounds):
                dockyard_times.append(run([DOCKYARD, *ours_argv[1:]], env, app.path))
                remove(client, f"dockyard.app={app.name}")
                raw_times.append(run([sys.executable, "-c", *raw_argv], env, app.path))
                remove(client, f"bench={app.name}")
            if args.calls:
                ours_calls = count_calls(ours_argv, env, app.path, root)
                remove(client, f"dockyard.app={app.name}")
                raw_calls = count_calls(raw_argv, env, app.path, root)
                remove(client, f"bench={app.name}")
        finally:
            remove(client, f"dockyard.app={app.name}")
            remove(client, f"bench={app.name}")
            for tag in [t for i in client.images.list() for t in i.tags if t.split("/")[-1].startswith(app.name)]:
                client.images.remove(tag, force=True)
    ours, theirs = statistics.median(dockyard_times), statistics.median(raw_times)
    print(f"deploy of 3 replicas on a network of their own, median of {args.rounds} rounds (fresh process each):")
    print(f"  dockyard deploy         {ours:6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in dockyard_times)})")
    print(f"  raw docker-py + health  {theirs:6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in raw_times)})")
    print(f"  ratio dockyard/raw      {ours / theirs:6.2f}x  (target <= 1.1x)")
    # each round's two runs follow each other: their ratio is the least touched by other work on the host
    paired = statistics.median(d / r for d, r in zip(dockyard_times, raw_times, strict=True))
    print(f"  median of round ratios  {paired:6.2f}x")
    if args.calls:
        print_calls(ours_calls, raw_calls)


def release_task_cost(rounds: int) -> None:
    client = docker.from_env()
    compileall.compile_dir(REPO / "dockyard", quiet=1)
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-") as tmp:
        root = Path(tmp)
        app = make_app(root, replicas=3, required="[]")
        app.write("with-task.yml", app.spec_file.read_text() + 'release: {command: "true"}\n')
        app.commit("a spec with a no-op release task")
        env = {**os.environ, "DOCKYARD_HOME": str(root / "home"), "DOCKYARD_SECRET_KEY_FILE": str(root / "key"),
               "DOCKYARD_CONFIG_STORE": f"sqlite:///{root}/home/config.db",
               "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
        for name in ("DOCKYARD_FILE", "DOCKYARD_SERVER"):
            env.pop(name, None)
        run([DOCKYARD, "build"], env, app.path)
        run([DOCKYARD, "config", "set", "testing", "GREETING=bench"], env, app.path)
        image = json.loads(subprocess.run([DOCKYARD, "deploy", "testing", "--dry-run", "--json"], env=env,
                                          cwd=app.path, check=True, capture_output=True, text=True).stdout)["image"]
        plain, tasked, peer = [], [], []
        # the task joins the environment's bridge network: so does the peer's container, one of its own
        peer_net = client.networks.create(f"bench-{app.name}", driver="bridge", labels={"bench": app.name})
        try:
            for n in range(rounds):
                for spec, into in (("dockyard.yml", plain), ("with-task.yml", tasked)):
                    # a new release each time (its configuration changes): the task is never "already done"
                    run([DOCKYARD, "config", "set", "testing", f"GREETING={spec}-{n}"], env, app.path)
                    into.append(run([DOCKYARD, "-f", spec, "deploy", "testing", "--skip-tests"], env, app.path))
                    remove(client, f"dockyard.app={app.name}")
                peer.append(run(["docker", "run", "--rm", "--network", peer_net.name, image, "true"], env, app.path))
        finally:
            remove(client, f"dockyard.app={app.name}")
            peer_net.remove()
            for tag in [t for i in client.images.list() for t in i.tags if t.split("/")[-1].startswith(app.name)]:
                client.images.remove(tag, force=True)
    added = [t - p for t, p in zip(tasked, plain, strict=True)]
    cost, alone = statistics.median(added), statistics.median(peer)
    print(f"a no-op release task (true), median of {rounds} rounds:")
    for label, times in (("deploy without a task", plain), ("deploy with the task", tasked),
                         ("added by the task", added), ("docker run --rm IMAGE true", peer)):
        print(f"  {label:26s} {statistics.median(times):6.2f} s   (runs: {', '.join(f'{t:.2f}' for t in times)})")
    print(f"  ratio added/docker run     {cost / alone:6.2f}x  (target <= 1.2x)")


if __name__ == "__main__":
    main()

"""Benchmark: the dashboard's pages against the JSON API that reads the same data, in one run.

A real `dockyard server` with its own home: 20 registered apps (each a git repository whose
dockyard.yml has 4 environments) and 200 releases per environment in the state database (16,000
releases). Timed, in turns, with one HTTP client each (keep-alive, like a browser):
  - an app's environments page (`GET /apps/APP`) against `GET /api/apps/APP/overview`;
  - an environment's releases page (`GET /apps/APP/envs/ENV/releases`) against
    `GET /api/apps/APP/releases/ENV?limit=200`;
  - a release diff page against `GET /api/apps/APP/releases/ENV/diff`.
Printed: the medians and p95 of each pair and their ratio (target: the page within 1.5x of the API).

Then how soon an update reaches an open page over server-sent events (target: within 1 s). The bench
holds the app's pipeline worker lock, so it is the app's worker: it writes a run's output lines into the state
database at random moments, as a worker does, while two streams read the run, the page's
(`/runs/ID/events`, the stream the run page's EventSource opens) and the JSON API's
(`/api/runs/ID/events`); and it writes log lines into the log store while the log page's tail
(`/apps/APP/envs/ENV/logs/events`) reads them. Printed: the delay from each write to its event's
arrival, median/p95/max, the page's p95 against the API stream's (ratio) and against the 1 s target.

    .venv/bin/python bench/dashboard.py [--rounds 200] [--updates 40]
"""

from __future__ import annotations

import argparse
import collections.abc
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.ports import free_port  # noqa: E402

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
APPS, ENVS, RELEASES = 20, ("dev", "testing", "staging", "production"), 200

SPEC = """\
app: {app}
services:
  web:
    command: [httpd, -f, -p, "8080", -h, /www]
    port: 8080
environments:
  dev: {{engine: local}}
  testing: {{engine: local}}
  staging: {{engine: local, promote: manual}}
  production: {{engine: local}}
"""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


def populate(root: Path, env: dict[str, str]) -> tuple[list[str], dict[tuple[str, str], list[int]]]:
    """20 apps with a repository each, 200 releases per environment and 20 config revisions."""
    os.environ.update(env)
    from dockyard.config.service import open_config_service
    from dockyard.pipeline.store import RunStore
    from dockyard.state.db import StateDB

    names = [f"bench{n:02d}" for n in range(APPS)]
    seqs: dict[tuple[str, str], list[int]] = {}
    db = StateDB()
    store = RunStore(db)
    config = open_config_service()
    for name in names:
        work = root / "repos" / name
        work.mkdir(parents=True)
        (work / "dockyard.yml").write_text(SPEC.format(app=name))
        git(work, "init", "-q", "-b", "main")
        git(work, "-c", "user.email=b@b", "-c", "user.name=b", "add", "-A")
        git(work, "-c", "user.email=b@b", "-c", "user.name=b", "commit", "-qm", "spec")
        store.register_app(name, str(work), "dockyard.yml")
        commit = subprocess.run(["git", "-C", str(work), "rev-parse", "HEAD"], check=True, capture_output=True,
                                text=True).stdout.strip()
        for env_name in ENVS:
            revisions = [config.set(env_name, name, {"KEY": f"v{i}", "N": str(i)}, "bench").revision
                         for i in range(4)]
            for i in range(RELEASES):
                seq = db.add_release(name, env_name, f"r{i:04d}", f"127.0.0.1:5000/{name}@sha256:{i:064x}", commit,
                                     revisions[i % len(revisions)], "live", "bench", note=f"release {i}")
                seqs.setdefault((name, env_name), []).append(seq)
    config.close()
    db.close()
    return names, seqs


class Server:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with log.open("ab") as out:
            self.proc = subprocess.Popen([DOCKYARD, "server", "--listen", f"127.0.0.1:{self.port}"],
                                         env={**os.environ, **env}, stdout=out, stderr=out, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        sys.exit("bench: the server did not start:\n" + log.read_text()[-2000:])

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def logged_in(url: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/login").text)
    assert nonce, "no log-in form"
    response = client.post("/login", data={"nonce": nonce.group(1), "token": token})
    assert response.status_code == 303, response.text
    return client


def timed(client: httpx.Client, path: str) -> float:
    start = time.perf_counter()
    response = client.get(path)
    took = time.perf_counter() - start
    if response.status_code != 200:
        sys.exit(f"bench: GET {path} answered {response.status_code}: {response.text[:500]}")
    return took


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]  # never past the largest


def compare(label: str, page: httpx.Client, api: httpx.Client, pairs: list[tuple[str, str]]) -> float:
    pages: list[float] = []
    apis: list[float] = []
    for n, (page_path, api_path) in enumerate(pairs):
        if n % 2:  # take turns going first
            pages.append(timed(page, page_path))
            apis.append(timed(api, api_path))
        else:
            apis.append(timed(api, api_path))
            pages.append(timed(page, page_path))
    ratio = statistics.median(pages) / statistics.median(apis)
    print(f"{label:14} page median {statistics.median(pages) * 1000:7.1f} ms p95 {p95(pages) * 1000:7.1f} ms | "
          f"API median {statistics.median(apis) * 1000:7.1f} ms p95 {p95(apis) * 1000:7.1f} ms | "
          f"ratio {ratio:.2f}x (target <= 1.5x)")
    return ratio


class Stream(threading.Thread):
    """Reads a text/event-stream and notes when each `tick N` of its events first arrived."""

    def __init__(self, client: httpx.Client, path: str, event: str, field: str) -> None:
        super().__init__(daemon=True)
        self.client, self.path, self.event, self.field = client, path, event, field
        self.arrived: dict[int, float] = {}
        self.open = threading.Event()
        self.error = ""

    def run(self) -> None:
        try:
            with self.client.stream("GET", self.path, timeout=httpx.Timeout(10, read=60)) as response:
                if response.status_code != 200:
                    self.error = f"GET {self.path} answered {response.status_code}"
                    return
                self.open.set()
                event = ""
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[len("event: "):]
                    elif line.startswith("data: ") and event == self.event:
                        text = str(json.loads(line[len("data: "):]).get(self.field, ""))
                        match = re.search(r"tick (\d+)", text)
                        if match:
                            self.arrived.setdefault(int(match.group(1)), time.monotonic())
                        elif text == "bench: end":
                            return
        except httpx.HTTPError as exc:
            self.error = f"GET {self.path}: {exc}"
        finally:
            self.open.set()
            self.client.close()


def delays(stream: Stream, sent: dict[int, float]) -> list[float]:
    if stream.error:
        sys.exit(f"bench: {stream.error}")
    missing = sorted(set(sent) - set(stream.arrived))
    if missing:
        sys.exit(f"bench: {stream.path} never delivered ticks {missing[:10]}")
    return [stream.arrived[n] - sent[n] for n in sorted(sent)]


def summary(values: list[float]) -> str:
    return (f"median {statistics.median(values) * 1000:6.0f} ms p95 {p95(values) * 1000:6.0f} ms "
            f"max {max(values) * 1000:6.0f} ms")


def ticks(count: int, write: collections.abc.Callable[[int], None]) -> dict[int, float]:
    """Write `count` ticks at random moments (so they fall anywhere in the streams' polls)."""
    sent: dict[int, float] = {}
    for n in range(count):
        time.sleep(random.uniform(0.1, 0.5))
        sent[n] = time.monotonic()
        write(n)
    return sent


def run_updates(server: Server, page: httpx.Client, token: str, app: str, count: int) -> None:
    """A run's output lines, written as the worker writes them, through the page's and the API's streams."""
    from dockyard.pipeline.model import StepDef
    from dockyard.pipeline.store import RunStore
    from dockyard.state.db import StateDB

    db = StateDB()
    store = RunStore(db)
    run_id = store.create_run(app, "0" * 40, "main", "bench", [StepDef("test", "dev", "unit")], supersede=False)
    claimed = store.claim_next("bench")
    assert claimed is not None and claimed.id == run_id, "another worker took the bench's run"
    store.start_step(run_id, 0)
    streams = [Stream(httpx.Client(base_url=server.url, cookies=page.cookies), f"/runs/{run_id}/events",
                      "output", "line"),
               Stream(httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}),
                      f"/api/runs/{run_id}/events", "output", "line")]
    for stream in streams:
        stream.start()
        stream.open.wait(10)
    time.sleep(1)  # past the streams' first poll
    sent = ticks(count, lambda n: store.append_output(run_id, 0, f"tick {n}"))
    store.append_output(run_id, 0, "bench: end")
    for stream in streams:
        stream.join(10)
    store.end_step(run_id, 0, "succeeded")
    store.finish_run(run_id, "succeeded")
    db.close()
    on_page, on_api = (delays(stream, sent) for stream in streams)
    print(f"{'run output':14} page {summary(on_page)} | API stream {summary(on_api)} | "
          f"p95 ratio {p95(on_page) / p95(on_api):.2f}x, {p95(on_page):.2f} of the 1 s target")


def log_updates(server: Server, page: httpx.Client, log_store: Path, app: str, count: int) -> None:
    """Log lines, written into the log store as the forwarder writes them, through the log page's tail."""
    from dockyard.logs.query import last_id
    from dockyard.logs.spool import Batch
    from dockyard.logs.store import LogStore

    store = LogStore(log_store)
    tags = {"container": f"{app}_dev_web_1", "host": "bench", "app": app, "env": "dev", "service": "web",
            "release": "r0001"}

    def write(n: int, text: str = "") -> None:
        store.write([Batch("b" * 64, "bench.log", tags, [(n * 100, time.time_ns(), 0, text or f"tick {n}")])])

    write(0, "bench: start")
    after = last_id(store)
    stream = Stream(httpx.Client(base_url=server.url, cookies=page.cookies),
                    f"/apps/{app}/envs/dev/logs/events?after={after}", "line", "message")
    stream.start()
    stream.open.wait(10)
    time.sleep(1)
    sent = ticks(count, lambda n: write(n + 1, f"tick {n}"))
    write(count + 1, "bench: end")
    stream.join(10)
    store.close()
    on_page = delays(stream, sent)
    print(f"{'log tail':14} page {summary(on_page)} | {p95(on_page):.2f} of the 1 s target")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--updates", type=int, default=40, help="updates sent through each event stream")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-dashboard-") as tmp:
        root = Path(tmp)
        env = {"DOCKYARD_HOME": str(root / "home"), "DOCKYARD_CONFIG_STORE": f"sqlite:///{root}/home/config.db",
               "DOCKYARD_SECRET_KEY_FILE": str(root / "secret.key"), "DOCKYARD_USER": "bench",
               "DOCKYARD_LOG_STORE": str(root / "logs" / "store.db")}
        start = time.perf_counter()
        names, seqs = populate(root, env)
        token = subprocess.run([DOCKYARD, "token", "create", "--name", "bench", "--scope", "admin"], env={
            **os.environ, **env}, capture_output=True, text=True, check=True).stdout.strip()
        print(f"{APPS} apps x {len(ENVS)} environments x {RELEASES} releases written in "
              f"{time.perf_counter() - start:.1f} s")
        from dockyard.pipeline.worker import app_lock

        with app_lock(names[0], wait=False) as holding:  # the bench is the app's worker: the server's waits
            assert holding
            server = Server(env, root / "server.log")
            try:
                measure(server, token, names, seqs, args.rounds, args.updates, Path(env["DOCKYARD_LOG_STORE"]))
            finally:
                server.stop()


def measure(server: Server, token: str, names: list[str], seqs: dict[tuple[str, str], list[int]], rounds: int,
            updates: int, log_store: Path) -> None:
    page = logged_in(server.url, token)
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    apps = [names[n % APPS] for n in range(rounds)]
    envs = [ENVS[n % len(ENVS)] for n in range(rounds)]
    for n in range(10):  # warm both (the spec's export, the engine's connection)
        timed(page, f"/apps/{apps[n]}")
        timed(api, f"/api/apps/{apps[n]}/overview")
    compare("environments", page, api, [(f"/apps/{a}", f"/api/apps/{a}/overview") for a in apps])
    compare("releases", page, api, [(f"/apps/{a}/envs/{e}/releases", f"/api/apps/{a}/releases/{e}?limit=200")
                                    for a, e in zip(apps, envs, strict=True)])
    diffs = [(a, e, seqs[(a, e)][150 + n % 50]) for n, (a, e) in enumerate(zip(apps, envs, strict=True))]
    compare("release diff", page, api, [(f"/apps/{a}/envs/{e}/diff?new={seq}",
                                         f"/api/apps/{a}/releases/{e}/diff?new={seq}") for a, e, seq in diffs])
    run_updates(server, page, token, names[0], updates)
    log_updates(server, page, log_store, names[0], updates)


if __name__ == "__main__":
    main()

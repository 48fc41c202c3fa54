"""Benchmark: a pull request's preview from its webhook, against the same steps by hand, in one run.

One app with a Redis accessory (`tests/datastores.py`) and `previews: {from: staging, data: snapshot}`,
served by a real `dockyard server` and the host's edge. Staging's Redis is booted, given a key and
backed up. Then, each with a commit of its own (so each builds):

- by hand, for an environment `handmade` shaped like a preview: `dockyard build`, the configuration
  copied from staging (`config export | config import`), `backup restore handmade db ID --from
  staging`, `accessory boot`, `deploy`; timed until its name answers the commit's page through the edge;
- by webhook: a signed GitHub `pull_request` opened event, timed until pr-7's name answers the
  commit's page (and the snapshot's key) through the edge.

Printed: both times and their ratio (target: the webhook within 1.2x of the steps by hand). Then ten
more pull requests of one commit, left idle once ready: their containers' memory (the engine's
stats) and disk (writable layers, and the volumes of their accessories).

    .venv/bin/python bench/preview.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker
import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from dockyard.router.edge import Edge  # noqa: E402
from tests.conftest import remove_app_resources  # noqa: E402
from tests.datastores import redis_app  # noqa: E402
from tests.e2e.test_previews import Receiver, pull_request, push_pull, send  # noqa: E402
from tests.integration.server.conftest import Server, site_env  # noqa: E402
from tests.ports import free_port  # noqa: E402

PREVIEWS = 'previews: {from: staging, domain: "pr-{number}.bench.test", max: 12, data: snapshot}\n'
HANDMADE = "  handmade: {engine: local, registry: remote, domains: [handmade.bench.test]}\n"


def wait_answer(http: int, name: str, path: str, wanted: str, timeout: float = 600) -> float:
    """Seconds until `name` answers `path` with `wanted` through the edge."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            got = httpx.get(f"http://127.0.0.1:{http}{path}", headers={"Host": name}, timeout=5)
            if got.status_code == 200 and got.text.strip() == wanted:
                return time.monotonic() - began
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"bench: {name}{path} did not answer {wanted!r} in {timeout} s")


def cli(server: Server, *args: str, cwd: Path, input: str | None = None) -> str:
    return server.cli(*args, cwd=cwd, input=input).stdout


def by_hand(server: Server, app_path: Path, http: int, backup_id: str) -> float:
    began = time.monotonic()
    cli(server, "build", cwd=app_path)
    exported = app_path.parent / "staging.yml"
    exported.write_text(cli(server, "config", "export", "staging", "--reveal", cwd=app_path))
    exported.chmod(0o600)
    cli(server, "config", "import", "handmade", str(exported), cwd=app_path)
    cli(server, "backup", "restore", "handmade", "db", backup_id, "--from", "staging", "--yes", cwd=app_path)
    cli(server, "accessory", "boot", "handmade", "db", cwd=app_path)
    cli(server, "deploy", "handmade", cwd=app_path)
    wait_answer(http, "handmade.bench.test", "/cgi-bin/get?seeded", "snapshot", timeout=60)
    return time.monotonic() - began


def idle_footprint(client: docker.DockerClient, app: str, envs: list[str]) -> tuple[int, int, int, int]:
    """(containers, memory bytes in use, writable-layer bytes, volume bytes) of these environments."""
    ids = {c.id for c in client.containers.list(filters={"label": f"dockyard.app={app}"})
           if c.labels.get("dockyard.env") in envs}
    memory = 0
    for cid in ids:
        stats = client.api.stats(cid, stream=False)
        usage = stats.get("memory_stats", {})
        memory += int(usage.get("usage", 0)) - int(usage.get("stats", {}).get("cache", 0))
    layers = sum(int(c.get("SizeRw") or 0) for c in client.api.containers(size=True) if c["Id"] in ids)
    volumes = sum(int((v.get("UsageData") or {}).get("Size") or 0) for v in client.df().get("Volumes") or []
                  if (v.get("Labels") or {}).get("dockyard.app") == app
                  and (v.get("Labels") or {}).get("dockyard.env") in envs)
    return len(ids), memory, layers, volumes


def main() -> None:
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="dockyard-bench-preview-") as tmp:
        root = Path(tmp)
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        http = free_port()
        server = Server(env=site_env(root), log=root / "server.log")
        receiver = Receiver()
        os.environ.update({k: v for k, v in server.env.items() if k != "DOCKYARD_WEBHOOK_SECRET"})
        app = redis_app(root / "apps")
        try:
            spec = app.spec_file.read_text().replace(
                "  staging: {engine: local, registry: remote, strategy: recreate, tests: [smoke], promote: manual}",
                "  staging: {engine: local, registry: remote, domains: [staging.bench.test]}\n" + HANDMADE.rstrip())
            app.write("dockyard.yml", spec + PREVIEWS)
            app.commit("previews")
            bare = root / f"{app.name}.git"
            subprocess.run(["git", "clone", "-q", "--bare", str(app.path), str(bare)], check=True)
            server.cli("edge", "configure", "--address", "127.0.0.1", "--http-port", str(http))
            server.cli("app", "add", app.name, "--repo", str(bare))
            cli(server, "config", "set", "staging", "GREETING=hi", cwd=app.path)
            cli(server, "secret", "set", "staging", "DB_TOKEN", cwd=app.path, input="bench-token")
            cli(server, "accessory", "boot", "staging", "db", cwd=app.path)
            client.containers.get(f"{app.name}_staging_db").exec_run(["redis-cli", "SET", "seeded", "snapshot"])
            cli(server, "backup", "create", "staging", "db", cwd=app.path)
            backup_id = json.loads(cli(server, "backup", "ls", "staging", "db", "--json", cwd=app.path))[0]["backup_id"]
            server.start()

            app.write("www/index.html", "by hand\n")
            app.commit("by hand")
            hand = by_hand(server, app.path, http, backup_id)

            app.git("checkout", "-q", "-b", "feature")
            sha = push_pull(app, bare, 7, "by webhook\n")
            began = time.monotonic()
            send(server, pull_request(app, bare, "opened", 7, sha))
            wait_answer(http, "pr-7.bench.test", "/", "by webhook")
            hook = time.monotonic() - began
            wait_answer(http, "pr-7.bench.test", "/cgi-bin/get?seeded", "snapshot", timeout=10)

            idle = push_pull(app, bare, 1, "idle\n")
            for number in range(2, 11):
                app.git("push", "-q", str(bare), f"HEAD:refs/pull/{number}/head")
            began = time.monotonic()
            for number in range(1, 11):
                send(server, pull_request(app, bare, "opened", number, idle))
            for number in range(1, 11):
                wait_answer(http, f"pr-{number}.bench.test", "/", "idle")
            ten = time.monotonic() - began
            time.sleep(5)  # idle
            count, memory, layers, volumes = idle_footprint(client, app.name, [f"pr-{n}" for n in range(1, 11)])
        finally:
            server.stop()
            for proc in server.started:
                if proc.poll() is None:
                    proc.kill()
            remove_app_resources(client, app.name)
            Edge(home=Path(server.env["DOCKYARD_HOME"])).stop(timeout=5)
            receiver.close()
    print("a preview with a Redis accessory seeded from staging's backup, 2 web replicas, served by the edge")
    print(f"  by hand (build, config copy, restore, accessory boot, deploy) {hand:7.1f} s")
    print(f"  by webhook (pull_request opened -> answering)                 {hook:7.1f} s")
    print(f"  webhook / by hand: {hook / hand:.2f} (target <= 1.2)")
    print(f"ten more previews of one commit: all answering after {ten:.1f} s; idle: {count} containers, "
          f"memory {memory / 2**20:.1f} MiB ({memory / 10 / 2**20:.1f} MiB each), writable layers "
          f"{layers / 2**10:.0f} KiB, accessory volumes {volumes / 2**10:.0f} KiB")


if __name__ == "__main__":
    main()

"""The data test of issue 16: 10,000 records written through the app into its Redis accessory,
across 5 blue/green deploys (each a switch), 2 rollbacks, a reboot of the accessory and a kill -9;
then a backup, the volume dropped with the accessory, a restore: every record there, none twice.
Then: a stopped accessory stays stopped through a deploy; down keeps its volume until --purge."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.router.nginx import NginxRouter
from tests.apps import TestApp
from tests.conftest import remove_app_resources
from tests.datastores import accessory, ok, redis_app
from tests.ports import free_port

pytestmark = pytest.mark.integration

# RPUSH records START..END-1 in one connection; prints how many Redis acknowledged
APPEND_CGI = """\
#!/bin/sh
echo "Content-Type: text/plain"
echo
start=${QUERY_STRING%%-*}; end=${QUERY_STRING#*-}; i=$start
{ while [ "$i" -lt "$end" ]; do printf 'RPUSH records %s\\r\\n' "$i"; i=$((i + 1)); done
  printf 'QUIT\\r\\n'; } | nc "$DB_HOST" "$DB_PORT" | grep -c '^:'
"""


@pytest.fixture
def app(tmp_path: Path, docker_client: docker.DockerClient, dockyard_env: Path) -> Iterator[tuple[TestApp, int]]:
    made = redis_app(tmp_path)
    live, preview = free_port(), free_port()
    made.write("www/cgi-bin/append", APPEND_CGI)
    made.write("dockyard.yml", made.spec_file.read_text().replace(
        "  site: {engine: local, registry: local}\n",
        "  site: {engine: local, registry: local, strategy: blue-green,\n"
        f"         router: {{live: {live}, preview: {preview}}}}}\n"))
    made.commit("blue-green, and records appended in batches")
    yield made, live
    NginxRouter(made.name, "site", home=dockyard_env).stop(timeout=5)  # the environment's balancer
    remove_app_resources(docker_client, made.name)


def append(live: int, start: int, end: int) -> None:
    for low in range(start, end, 500):
        high = min(end, low + 500)
        answer = httpx.get(f"http://127.0.0.1:{live}/cgi-bin/append?{low}-{high}", timeout=30).text.strip()
        assert answer == str(high - low), f"appending {low}..{high}: {answer!r}"


def records(client: docker.DockerClient, app: TestApp) -> list[str]:
    result = accessory(client, app).exec_run(["redis-cli", "lrange", "records", "0", "-1"])
    assert result.exit_code == 0, result.output
    return result.output.decode().split()


def new_release(app: TestApp, n: int) -> None:
    app.write("www/index.html", f"v{n}\n")
    app.commit(f"v{n}")
    ok("build", cwd=app.path)
    ok("deploy", "site", cwd=app.path)


def test_ten_thousand_records_through_deploys_rollbacks_a_switch_crashes_and_a_restore(app, docker_client) -> None:
    app, live = app
    ok("config", "set", "site", "GREETING=hello", "DB_TOKEN=x", cwd=app.path)
    ok("accessory", "boot", "site", "db", cwd=app.path)
    ok("build", cwd=app.path)
    ok("deploy", "site", cwd=app.path)
    append(live, 0, 2000)
    for n in range(5):  # 5 deploys, each a blue/green switch
        new_release(app, n)
        append(live, 2000 + n * 1000, 3000 + n * 1000)
    ok("rollback", "site", cwd=app.path)
    ok("rollback", "site", cwd=app.path)
    append(live, 7000, 8000)
    db_id = accessory(docker_client, app).id

    ok("accessory", "reboot", "site", "db", cwd=app.path)
    assert accessory(docker_client, app).id != db_id
    append(live, 8000, 9000)

    db = accessory(docker_client, app)
    os.kill(db.attrs["State"]["Pid"], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        db.reload()
        if db.attrs["RestartCount"] >= 1 and db.attrs["State"].get("Health", {}).get("Status") == "healthy":
            break
        time.sleep(0.5)
    assert db.attrs["RestartCount"] >= 1
    append(live, 9000, 10_000)
    want = [str(n) for n in range(10_000)]
    assert records(docker_client, app) == want

    ok("backup", "create", "site", "db", cwd=app.path)
    [backup] = [b["backup_id"] for b in json.loads(ok("backup", "ls", "site", "db", "--json", cwd=app.path))]
    ok("accessory", "stop", "site", "db", cwd=app.path)
    ok("accessory", "remove", "site", "db", "--purge", "--yes", cwd=app.path)  # the volume is gone
    ok("backup", "restore", "site", "db", backup, "--yes", cwd=app.path)
    ok("accessory", "boot", "site", "db", cwd=app.path)
    got = records(docker_client, app)
    assert (len(got), len(set(got))) == (10_000, 10_000) and got == want
    [shown] = json.loads(ok("status", "site", "--json", cwd=app.path))["accessories"]
    assert (shown["name"], shown["state"], shown["health"]) == ("db", "running", "healthy")

    # stopped, it stays stopped through an app deploy; down removes it and keeps its data until --purge
    assert "is stopped" in ok("accessory", "stop", "site", "db", cwd=app.path)
    ok("deploy", "site", cwd=app.path)
    assert accessory(docker_client, app).status == "exited"
    ok("down", "site", "--yes", cwd=app.path)
    with pytest.raises(docker.errors.NotFound):
        accessory(docker_client, app)
    volume = f"dockyard_{app.name}_site_db_data"
    docker_client.volumes.get(volume)
    ok("accessory", "boot", "site", "db", cwd=app.path)
    assert len(records(docker_client, app)) == 10_000
    ok("down", "site", "--yes", "--purge", cwd=app.path)
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(volume)

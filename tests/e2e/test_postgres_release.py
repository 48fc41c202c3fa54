"""A schema migration as a release task against a real PostgreSQL 15 (issue 31): the server and psql
from Debian's packages in FROM scratch images, the database an accessory of a blue-green
environment of 3 replicas.

- Release 1's task creates a table of 10,000 rows. Release 2's adds a column and backfills every
  row; its code reads the column. Deployed under load: no request fails, every answer is the old
  code's or the new code's reading of the new column (the new code reads it from its first
  request), the old ones all before the switch.
- A migration that fails keeps release 2 serving, and nothing of the new release starts.
- The deploying process killed with SIGKILL in the middle of a task, then a deploy again: the task
  ran to its end exactly once in the task history, and its effect is there once (counted rows).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from dockyard.engine import labels as L
from dockyard.state.db import StateDB
from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.datastores import ok, postgres_context, psql_client
from tests.integration.bluegreen.load import Load, failures, non_2xx
from tests.ports import free_port

pytestmark = pytest.mark.e2e

PSQL = ('PGPASSWORD="$(cat /run/secrets/DB_PASSWORD)" /usr/lib/postgresql/15/bin/psql -h "$DB_HOST" -p "$DB_PORT" '
        '-U postgres -v ON_ERROR_STOP=1')
CGI = """\
#!/bin/sh
echo "Content-Type: text/plain"
echo
{psql} -At -c "{query}" 2>&1
"""
DOCKERFILE = """\
FROM dockyard/busybox:1.35
COPY pgclient/ /
COPY www /www
RUN ["/bin/sh", "-c", "chmod 755 /www/cgi-bin/*"]
USER 65534:65534
"""
INIT = ("[ -s /data/pg/PG_VERSION ] || { initdb -D /data/pg -U postgres --pwfile=/run/secrets/DB_PASSWORD "
        "--auth-local=trust --auth-host=scram-sha-256 --locale=C -E UTF8 >/dev/null && "
        "echo 'host all all all scram-sha-256' >> /data/pg/pg_hba.conf; }; "
        "exec postgres -D /data/pg -k /tmp -c listen_addresses='*'")


def spec(app: str, live: int, preview: int, migration: str) -> str:
    return textwrap.dedent(f"""\
        app: {app}
        registries: {{local: 127.0.0.1:5000}}
        services:
          web:
            command: [httpd, -f, -p, "8080", -h, /www]
            port: 8080
            health: {{path: /health, interval: 100ms, timeout: 1s, start_period: 8s}}
            replicas: 3
            resources: {{cpus: 0.5, memory: 64m}}
            stop_grace: 2s
            env: {{DB_HOST: "${{accessories.db.host}}", DB_PORT: "${{accessories.db.port}}"}}
        accessories:
          db:
            build: {{context: pg, dockerfile: Dockerfile}}
            command: [sh, -c, "{INIT}"]
            port: 5432
            volumes: [{{name: data, path: /data}}]
            health: {{cmd: [pg_isready, -h, /tmp, -U, postgres], interval: 500ms, timeout: 2s, retries: 10,
                      start_period: 30s}}
            config: [DB_PASSWORD]
        config:
          required: [DB_PASSWORD]
        release:
          command: '{migration}'
          timeout: 2m
        environments:
          site:
            engine: local
            registry: local
            strategy: blue-green
            router: {{live: {live}, preview: {preview}, rollback_window: 5m}}
        """)


def sql(statements: str) -> str:
    return f'{PSQL} -c "{statements}"'.replace("'", "''")


CREATE = sql("CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 10000)")
BACKFILL = sql("ALTER TABLE items ADD COLUMN label text; UPDATE items SET label = 'item-' || id")
BROKEN = sql("ALTER TABLE no_such_table ADD COLUMN x int")
SLOW = sql("CREATE TABLE IF NOT EXISTS ran (v text); INSERT INTO ran VALUES ('v4'); SELECT pg_sleep(4)")


def release(app: TestApp, live: int, preview: int, migration: str, query: str, message: str) -> None:
    app.write("dockyard.yml", spec(app.name, live, preview, migration))
    app.write("www/cgi-bin/item", CGI.format(psql=PSQL, query=query))
    app.commit(message)
    ok("build", cwd=app.path)


@pytest.fixture
def app(tmp_path: Path, docker_client: docker.DockerClient, dockyard_env: Path) -> Iterator[tuple[TestApp, int, int]]:
    made = make_app(tmp_path)
    postgres_context(made.path / "pg")
    psql_client(made.path / "pgclient")
    made.write("Dockerfile", DOCKERFILE)
    made.write(".dockerignore", "pg\n")
    live, preview = free_port(), free_port()
    release(made, live, preview, CREATE, "SELECT 'count=' || count(*) FROM items", "release 1: the items table")
    assert run_cli("config", "set", "site", "DB_PASSWORD", "--secret", cwd=made.path, input="pg-s3cret").returncode == 0
    ok("accessory", "boot", "site", "db", cwd=made.path)
    try:
        yield made, live, preview
    finally:
        from dockyard.router.nginx import NginxRouter

        NginxRouter(made.name, "site", home=dockyard_env).stop(timeout=5)
        remove_app_resources(docker_client, made.name)


def query(client: docker.DockerClient, app: TestApp, statement: str) -> str:
    db = client.containers.get(f"{app.name}_site_db")
    return str(db.exec_run(["psql", "-h", "/tmp", "-U", "postgres", "-At", "-c", statement]).output.decode().strip())


def replicas(client: docker.DockerClient, app: TestApp) -> set[tuple[str, str]]:
    return {(c.name, c.labels[L.RELEASE]) for c in client.containers.list(all=True, filters={
        "label": [f"{L.APP}={app.name}", L.MANAGED]})}


def test_a_migration_runs_once_before_the_switch_under_load(app: tuple[TestApp, int, int],
                                                           docker_client: docker.DockerClient) -> None:
    made, live, preview = app
    ok("deploy", "site", cwd=made.path)
    assert query(docker_client, made, "SELECT count(*) FROM items") == "10000"
    load = Load(f"http://127.0.0.1:{live}/cgi-bin/item", threads=4, max_seconds=150)
    release(made, live, preview, BACKFILL, "SELECT label FROM items WHERE id = 42", "release 2: a label column")
    load.start()
    try:
        time.sleep(1)
        out = ok("deploy", "site", cwd=made.path)
        time.sleep(1)
    finally:
        hits = load.stop()
    assert out.index("release task of release") < out.index("live listener"), out
    assert failures(hits) == [] and non_2xx(hits) == []
    answers = [h.body for h in sorted(hits, key=lambda h: h.sent)]
    assert set(answers) == {"count=10000", "item-42"}, set(answers)  # no error, no empty answer
    first_new = answers.index("item-42")
    assert "count=10000" not in answers[first_new + 4 * 4:]  # after the switch (requests in flight aside)
    assert query(docker_client, made, "SELECT count(*) FROM items WHERE label = 'item-' || id") == "10000"
    history = StateDB().release_tasks(made.name, "site")
    assert [t.status for t in history] == ["succeeded", "succeeded"]  # once per release: two releases

    before = replicas(docker_client, made)
    release(made, live, preview, BROKEN, "SELECT 'never'", "release 3: a broken migration")
    failed = run_cli("deploy", "site", cwd=made.path)
    assert failed.returncode != 0 and "no_such_table" in failed.stderr and "Traceback" not in failed.stderr
    assert replicas(docker_client, made) == before  # nothing of release 3 started
    assert httpx.get(f"http://127.0.0.1:{live}/cgi-bin/item", timeout=10).text.strip() == "item-42"

    release(made, live, preview, SLOW, "SELECT label FROM items WHERE id = 7", "release 4: a slow migration")
    deploy = subprocess.Popen([str(Path(sys.executable).parent / "dockyard"), "deploy", "site"], cwd=made.path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while query(docker_client, made, "SELECT count(*) FROM ran") != "1":  # its insert is in: it runs
        assert deploy.poll() is None and time.monotonic() < deadline, deploy.communicate()
        time.sleep(0.2)
    deploy.send_signal(signal.SIGKILL)
    deploy.wait(10)
    ok("deploy", "site", cwd=made.path)  # collects the task left running, does not run it again
    assert query(docker_client, made, "SELECT count(*) FROM ran") == "1"  # its effect, once
    fourth = StateDB().live_release(made.name, "site")
    assert fourth is not None
    assert [t.status for t in StateDB().release_tasks(made.name, "site", fourth.release_id)] == ["succeeded"]
    assert httpx.get(f"http://127.0.0.1:{live}/cgi-bin/item", timeout=10).text.strip() == "item-7"

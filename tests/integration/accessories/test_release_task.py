"""The release task on the real engine (issue 31), with a Redis accessory as the database it
migrates: it runs once per release in a container of the new image, with the environment's
configuration, files and network (the accessory by name), before any replica starts; the new code
reads what it wrote from its first request; a failing task starts nothing and the old release
serves on; a deploy killed with SIGKILL in the middle of the task leaves it to finish, and the
next deploy collects it: it ran once. A rollback runs none."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.deploy.one_off import LOG_GRACE
from dockyard.engine import labels as L
from dockyard.state.db import StateDB
from tests.apps import TestApp
from tests.conftest import remove_app_resources, run_cli
from tests.datastores import get, ok, redis_app, web_port
from tests.json_schemas import check

pytestmark = pytest.mark.integration

# INCR counts the runs; SET leaves what the new code reads; the file shows the release's config files
MIGRATE = ("release:\n  command: >-\n    sleep ${MIGRATE_SLEEP:-0} &&\n"
           "    printf 'INCR migrations\\r\\nQUIT\\r\\n' | nc \"$DB_HOST\" \"$DB_PORT\" | head -1 &&\n"
           "    printf 'SET migrated %s\\r\\nQUIT\\r\\n' \"$GREETING\" | nc \"$DB_HOST\" \"$DB_PORT\" | head -1 &&\n"
           "    echo \"migrated to $(cat /etc/app/app.conf)\"\n  timeout: 1m\n")
BROKEN = "release:\n  command: \"echo the column exists already >&2; exit 3\"\n"


def runs(client: docker.DockerClient, app: TestApp) -> int:
    db = client.containers.get(f"{app.name}_site_db")
    out = db.exec_run(["redis-cli", "GET", "migrations"]).output.decode().strip()
    return int(out or 0)


def replicas(client: docker.DockerClient, app: TestApp) -> set[tuple[str, str]]:
    return {(c.name, c.labels[L.RELEASE]) for c in client.containers.list(all=True, filters={
        "label": [f"{L.APP}={app.name}", L.MANAGED]})}


def tasks_left(client: docker.DockerClient, app: TestApp) -> list:
    return client.containers.list(all=True, filters={"label": [f"{L.APP}={app.name}", L.TASK]})


def tasks_running(client: docker.DockerClient, app: TestApp) -> list:
    """Task containers that still run (an ended one is kept a moment for the log forwarder)."""
    return [c for c in tasks_left(client, app) if c.status != "exited"]


@pytest.fixture
def app(tmp_path: Path, docker_client: docker.DockerClient, dockyard_env: Path) -> Iterator[TestApp]:
    made = redis_app(tmp_path)
    made.write("dockyard.yml", made.spec_file.read_text() + MIGRATE)
    made.commit("a release task")
    ok("config", "set", "site", "GREETING=one", cwd=made.path)
    run_cli("config", "set", "site", "DB_TOKEN", "--secret", cwd=made.path, input="s3cr3t-token")
    ok("accessory", "boot", "site", "db", cwd=made.path)
    ok("build", cwd=made.path)
    try:
        yield made
    finally:
        remove_app_resources(docker_client, made.name)


def test_once_per_release_before_the_replicas_and_a_failure_keeps_the_old_release(
        app: TestApp, docker_client: docker.DockerClient) -> None:
    out = ok("deploy", "site", cwd=app.path)
    assert "release task: sh -c sleep" in out and "| migrated to greeting=one" in out, out
    assert out.index("release task of release") < out.index("started ")  # before the first replica
    port = web_port(docker_client, app)
    assert runs(docker_client, app) == 1 and get(port, "migrated") == "one"
    assert tasks_running(docker_client, app) == []
    history = check("releases.schema.json", json.loads(ok("releases", "site", "--json", cwd=app.path)))
    assert history[0]["release_task"]["status"] == "succeeded" and history[0]["release_task"]["exit_code"] == 0
    table = run_cli("releases", "site", cwd=app.path, env={"COLUMNS": "250"}).stdout
    assert "release task" in table and "succeeded 0." in table  # its column

    time.sleep(LOG_GRACE)
    assert "already runs release" in ok("deploy", "site", cwd=app.path)
    assert runs(docker_client, app) == 1  # the same release: not run again
    assert tasks_left(docker_client, app) == []  # the ended task, kept for the log forwarder, is gone now

    ok("config", "set", "site", "GREETING=two", cwd=app.path)
    ok("deploy", "site", cwd=app.path)  # a new release (its configuration changed): it runs
    port = web_port(docker_client, app)
    assert runs(docker_client, app) == 2 and get(port, "migrated") == "two"  # from its first request

    before = replicas(docker_client, app)
    app.write("dockyard.yml", app.spec_file.read_text().replace(MIGRATE, BROKEN))
    app.commit("a broken migration")
    ok("build", cwd=app.path)
    for _attempt in (1, 2):  # after a failure the next deploy runs it again
        failed = run_cli("deploy", "site", cwd=app.path)
        assert failed.returncode != 0 and "Traceback" not in failed.stderr
        assert "failed (exit 3)" in failed.stderr and "nothing switched" in failed.stderr, failed.stderr
        assert "the column exists already" in failed.stderr
        assert replicas(docker_client, app) == before  # nothing of the new release started
        assert get(web_port(docker_client, app), "migrated") == "two"  # the old release serves
        assert tasks_running(docker_client, app) == []
    failed_release = json.loads(ok("releases", "site", "--json", cwd=app.path))[0]
    assert failed_release["status"] == "failed" and failed_release["release_task"]["exit_code"] == 3
    assert [t.status for t in StateDB().release_tasks(app.name, "site", failed_release["release_id"])] == \
        ["failed", "failed"]


def test_a_deploy_killed_in_the_middle_of_the_task_leaves_it_to_finish_once(
        app: TestApp, docker_client: docker.DockerClient) -> None:
    ok("deploy", "site", cwd=app.path)
    assert runs(docker_client, app) == 1
    ok("config", "set", "site", "MIGRATE_SLEEP=4", cwd=app.path)
    deploy = subprocess.Popen([str(Path(sys.executable).parent / "dockyard"), "deploy", "site"], cwd=app.path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not [c for c in tasks_left(docker_client, app) if c.status == "running"]:
        assert deploy.poll() is None and time.monotonic() < deadline, deploy.communicate()
        time.sleep(0.1)
    deploy.send_signal(signal.SIGKILL)
    deploy.wait(10)
    [task] = tasks_left(docker_client, app)
    release = task.labels[L.RELEASE]
    assert [t.status for t in StateDB().release_tasks(app.name, "site", release)] == ["running"]

    out = ok("deploy", "site", cwd=app.path)  # collects the task the killed one left, runs it no more
    assert f"release task of release {release} left by an interrupted deploy" in out, out
    assert "already succeeded" in out
    assert runs(docker_client, app) == 2  # its effect, once
    assert [t.status for t in StateDB().release_tasks(app.name, "site", release)] == ["succeeded"]
    assert tasks_running(docker_client, app) == []
    live = json.loads(ok("releases", "site", "--json", cwd=app.path))[0]
    assert live["release_id"] == release and live["status"] == "live"

    ok("rollback", "site", cwd=app.path)  # runs no task
    assert runs(docker_client, app) == 2


def test_run_a_one_off_command_in_the_live_release(app: TestApp, docker_client: docker.DockerClient) -> None:
    nothing = run_cli("run", "site", "--", "true", cwd=app.path)
    assert nothing.returncode != 0 and "runs no release" in nothing.stderr and "Traceback" not in nothing.stderr
    ok("deploy", "site", cwd=app.path)
    done = run_cli("run", "site", "--", "sh", "-c", "echo greeting is $GREETING; cat /etc/app/app.conf; "
                   "ls /run/secrets; printf 'GET migrated\\r\\nQUIT\\r\\n' | nc $DB_HOST $DB_PORT | sed -n 2p; exit 7",
                   cwd=app.path)
    assert done.returncode == 7, done.stderr  # the command's exit code
    lines = done.stdout.splitlines()
    assert lines[:4] == ["greeting is one", "greeting=one", "DB_TOKEN", "one"], done.stdout  # config, files, db
    assert "s3cr3t-token" not in done.stdout + done.stderr
    assert [c for c in tasks_left(docker_client, app) if c.labels[L.TASK] == "run"] == []  # removed when it ended

    detached = run_cli("run", "site", "--detach", "--", "sleep", "30", cwd=app.path)
    assert detached.returncode == 0, detached.stderr
    container = docker_client.containers.get(detached.stdout.strip())
    assert container.status == "running" and container.labels[L.TASK] == "run" and L.MANAGED not in container.labels
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "no"
    assert not container.attrs["HostConfig"]["PortBindings"]  # publishes nothing
    assert "already runs release" in ok("deploy", "site", cwd=app.path)  # no deploy takes it for a replica
    assert container.reload() is None and container.status == "running"
    rows = json.loads(ok("audit", "--json", "--limit", "20", cwd=app.path))
    assert [(r["action"], r["target"], r["detail"]) for r in rows if r["action"] == "run"][:1] == \
        [("run", f"{app.name}/site", None)]  # who ran what where; never the command's words

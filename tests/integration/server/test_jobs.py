"""Scheduled jobs on the real engine (issue 31).

The runner's passes are driven by a clock of the test (a minute of the schedule passes at each
pass, the containers are real): a `* * * * *` job over 3 minutes runs 3 times; a job still running
under `forbid` is not started again (never two at once); 2 minutes without passes (the server down)
give one run (a catch-up, or none under `skip_missed` when its moment is past); a failure is
announced and audited. Then the
real `dockyard server`, started after 2 minutes away, runs the missed moment once by itself, and
`jobs ls|runs|run-now` show and run them.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.config.service import open_config_service
from dockyard.deploy.one_off import LOG_GRACE
from dockyard.engine import labels as L
from dockyard.engine.client import connect
from dockyard.jobs.runner import JobRunner
from dockyard.jobs.store import JobStore
from dockyard.notify.store import Events
from dockyard.spec import load_spec
from dockyard.state.audit import AuditLog
from dockyard.state.db import StateDB
from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.integration.server.conftest import Server, dashboard_session

pytestmark = pytest.mark.integration

JOBS = """\
jobs:
  - {name: tick, schedule: "* * * * *", command: 'echo "tick $DOCKYARD_JOB $(cat /etc/app/app.conf)"',
     environments: [testing]}
  - {name: slow, schedule: "* * * * *", command: "while [ ! -f /tmp/stop ]; do sleep 0.1; done",
     concurrency: forbid, environments: [testing]}
  - {name: punctual, schedule: "* * * * *", command: [true], skip_missed: true, environments: [testing]}
  - {name: latest, schedule: "* * * * *", command: "sleep 600", concurrency: replace, environments: [testing]}
  - {name: broken, schedule: "0 3 * * *", command: "echo no such table >&2; exit 4", environments: [testing]}
  - {name: nightly, schedule: "17 3 * * *", command: 'echo "nightly $DOCKYARD_JOB"', environments: [testing]}
"""


def ok(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = run_cli(*args, cwd=cwd, env=env)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def job_containers(client: docker.DockerClient, app: TestApp, job: str, running: bool = True) -> list:
    return client.containers.list(all=not running, filters={"label": [f"{L.APP}={app.name}", f"{L.TASK}=job.{job}"]})


def statuses(db: StateDB, app: TestApp, job: str) -> list[tuple[str, float | None]]:
    return [(r.status, r.due_at) for r in reversed(db.task_runs(app.name, "testing", f"job.{job}"))]


def deployed(root: Path, env: dict[str, str] | None = None) -> TestApp:
    app = make_app(root, replicas=1)
    app.write("dockyard.yml", app.spec_file.read_text().replace("environments:\n", JOBS + "environments:\n"))
    app.commit("jobs")
    ok("config", "set", "testing", "GREETING=hi", cwd=app.path, env=env)
    ok("build", cwd=app.path, env=env)
    ok("deploy", "testing", "--skip-tests", cwd=app.path, env=env)
    return app


@pytest.fixture
def app(tmp_path: Path, docker_client: docker.DockerClient, dockyard_env: Path) -> Iterator[TestApp]:
    made = deployed(tmp_path)
    try:
        yield made
    finally:
        remove_app_resources(docker_client, made.name)


def test_every_minute_forbid_catch_up_and_failures(app: TestApp, docker_client: docker.DockerClient) -> None:
    db, lines = StateDB(), list[str]()
    start = (time.time() // 60 + 1) * 60 + 1  # a second past the next minute of the schedule
    clock = [start]
    runner = JobRunner(db, open_config_service, connect, lines.append, clock=lambda: clock[0])
    spec = load_spec(app.spec_file)
    assert runner.tick([spec]) == []  # first seen: from the next moment on
    minute = [start - 1 + 60 * k for k in range(6)]

    def at(k: int, extra: float = 0.0) -> list[str]:
        clock[0] = minute[k] + 1 + extra
        started = [run.job for run in runner.tick([spec])]
        for job in ("slow", "latest"):
            assert len(job_containers(docker_client, app, job)) <= 1  # never two at once
        return sorted(started)

    assert at(1) == ["latest", "punctual", "slow", "tick"]
    wait_ended(docker_client, app, "tick")
    assert at(2) == ["latest", "punctual", "tick"]  # slow still runs: forbid skips it; latest's is replaced
    [slow] = job_containers(docker_client, app, "slow")
    slow.exec_run(["touch", "/tmp/stop"])
    wait_ended(docker_client, app, "slow")
    wait_ended(docker_client, app, "tick")
    assert at(3) == ["latest", "punctual", "slow", "tick"]
    job_containers(docker_client, app, "slow")[0].exec_run(["touch", "/tmp/stop"])
    for job in ("slow", "tick", "punctual"):
        wait_ended(docker_client, app, job)
    # no pass for two minutes and more (the server was down): the latest moment missed runs once
    assert at(5, extra=35) == ["latest", "slow", "tick"]  # punctual says skip_missed
    for job in ("slow", "tick"):
        if job == "slow":
            job_containers(docker_client, app, "slow")[0].exec_run(["touch", "/tmp/stop"])
        wait_ended(docker_client, app, job)
    runner.collect(spec, "testing", connect("local"))

    assert statuses(db, app, "tick") == [("succeeded", minute[1]), ("succeeded", minute[2]),
                                         ("succeeded", minute[3]), ("succeeded", minute[5])]
    assert statuses(db, app, "slow") == [("succeeded", minute[1]), ("skipped", minute[2]),
                                         ("succeeded", minute[3]), ("succeeded", minute[5])]
    assert statuses(db, app, "punctual")[-1] == ("skipped", minute[5])
    assert statuses(db, app, "latest")[:3] == [("replaced", minute[1]), ("replaced", minute[2]),
                                               ("replaced", minute[3])]
    assert len(statuses(db, app, "punctual")) == 4
    tick = db.task_runs(app.name, "testing", "job.tick", limit=1)[0]
    assert tick.output.strip() == "tick tick greeting=hi"  # the live release's configuration and files
    time.sleep(LOG_GRACE)  # each ended one stays this long for the host's log forwarder, then goes
    runner.collect(spec, "testing", connect("local"))
    assert job_containers(docker_client, app, "tick", running=False) == []
    assert len(statuses(db, app, "tick")) == 4  # recorded once each, however many passes saw it

    broken = runner.run_now(spec, "testing", spec.job("broken"), connect("local"), progress=lines.append)
    assert broken.exit_code == 4 and "no such table" in "\n".join(lines)
    [failed] = Events(db).recent(("job.failed",), app=app.name)
    assert "job broken failed (exit 4)" in failed.event.text
    rows = [(r.action, r.outcome) for r in AuditLog(db).rows(target=f"{app.name}/testing") if r.actor ==
            "dockyard-server"]
    assert ("job broken", "failed: failed (exit 4)") in rows and ("job tick", "ok") in rows


def wait_ended(client: docker.DockerClient, app: TestApp, job: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while job_containers(client, app, job):
        assert time.monotonic() < deadline, f"job {job} still runs"
        time.sleep(0.1)


@pytest.fixture
def server(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[tuple[Server, TestApp]]:
    from tests.integration.server.conftest import site_env

    made = Server(env={**site_env(tmp_path), "DOCKYARD_JOBS_EVERY": "0.5"}, log=tmp_path / "server.log")
    app = deployed(tmp_path, made.env)
    try:
        yield made, app
    finally:
        made.stop()
        remove_app_resources(docker_client, app.name)


def test_the_server_runs_a_missed_moment_once_when_it_is_back(server: tuple[Server, TestApp]) -> None:
    srv, app = server
    srv.cli("jobs", "enable", cwd=app.path)
    db = StateDB(Path(srv.env["DOCKYARD_HOME"]) / "state.db")
    store = JobStore(db)
    away = time.time() - 2 * 86400  # the server was down for two days: two nightly runs missed
    store.set_mark(app.name, "testing", "nightly", away)
    srv.start()
    deadline = time.monotonic() + 60
    while [s for s, _ in statuses(db, app, "nightly")] != ["succeeded"]:
        assert time.monotonic() < deadline, srv.log.read_text()
        time.sleep(0.2)
    time.sleep(2)  # more passes: still the one run
    assert [s for s, _ in statuses(db, app, "nightly")] == ["succeeded"]
    listed = json.loads(srv.cli("jobs", "ls", "testing", "--json", cwd=app.path).stdout)
    nightly = next(j for j in listed["jobs"] if j["name"] == "nightly")
    assert listed["enabled"] and nightly["last_run"]["status"] == "succeeded" and nightly["next_run"]
    history = json.loads(srv.cli("jobs", "runs", "testing", "--job", "nightly", "--json", cwd=app.path).stdout)
    assert [r["status"] for r in history] == ["succeeded"] and "nightly nightly" in history[0]["output"]
    failed = run_cli("jobs", "run-now", "testing", "broken", cwd=app.path, env=srv.env)
    assert failed.returncode == 4 and "no such table" in failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr

    # the dashboard's job page: each job, its next run, and the runs with their last lines
    bare = app.path.parent / f"{app.name}.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(app.path), str(bare)], check=True)
    srv.cli("app", "add", app.name, "--repo", str(bare))
    token = srv.cli("token", "create", "--name", "job-viewer", "--scope", "read", "--app", app.name).stdout.strip()
    browser = dashboard_session(srv, token)
    html = browser.get(f"/apps/{app.name}/envs/testing/jobs").text
    assert 'data-job="nightly"' in html and "17 3 * * *" in html and "nightly nightly" in html
    assert "no such table" in html and ">failed<" in html  # the run-now's failure, with its last lines
    browser.close()

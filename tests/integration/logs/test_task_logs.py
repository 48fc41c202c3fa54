"""One-off containers' output reaches the log store (issue 31): a release task's lines and those of
`dockyard run`, each removed as soon as it ends, are in the forwarder's store, tagged with the app,
the environment, the service whose settings they ran with and the release."""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.logs.query import Query, search
from dockyard.logs.store import LogStore
from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.integration.logs.harness import ForwarderProcess

pytestmark = pytest.mark.integration


def ok(*args: str, cwd: Path) -> str:
    result = run_cli(*args, cwd=cwd)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def app(tmp_path: Path, docker_client: docker.DockerClient, dockyard_env: Path) -> Iterator[tuple[TestApp, Path]]:
    made = make_app(tmp_path, replicas=1)
    made.write("dockyard.yml", made.spec_file.read_text().replace(
        "environments:\n", "release: {command: 'echo \"migrating $DOCKYARD_TASK_MARK\"'}\nenvironments:\n"))
    made.commit("a release task")
    ok("config", "set", "testing", "GREETING=hi", "DOCKYARD_TASK_MARK=mark-" + secrets.token_hex(4), cwd=made.path)
    ok("build", cwd=made.path)
    state = tmp_path / "forwarder"
    argv = [sys.executable, "-m", "dockyard.logs", "forwarder", "run", "--state", str(state),
            "--label", f"dockyard.app={made.name}", "--host", "testhost"]
    forwarder = ForwarderProcess(argv, tmp_path / "forwarder.log")
    forwarder.start()
    try:
        yield made, state
    finally:
        forwarder.stop()
        remove_app_resources(docker_client, made.name)


def stored(state: Path, app: str, grep: str, timeout: float = 20) -> list:
    deadline = time.monotonic() + timeout
    while True:
        store = LogStore(state / "store.db", readonly=True) if (state / "store.db").exists() else None
        found = search(store, Query(app=app, grep=grep, limit=50)) if store else []
        if store:
            store.close()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_release_task_and_run_output_reach_the_log_store(app: tuple[TestApp, Path]) -> None:
    made, state = app
    out = ok("deploy", "testing", "--skip-tests", cwd=made.path)
    mark = out.split("| migrating ", 1)[1].split()[0]
    [line] = stored(state, made.name, mark)
    assert (line.env, line.service, line.container) == ("testing", "web", line.container)
    assert line.container.startswith(f"{made.name}_testing_release_") and line.release
    marks = [f"run-{secrets.token_hex(3)}" for _ in range(5)]
    for each in marks:  # each removed the moment it ends
        assert ok("run", "testing", "--", "echo", each, cwd=made.path).strip() == each
    for each in marks:
        assert [line.message for line in stored(state, made.name, each)] == [each], each

"""The hooks around a deploy on the real engine (issue 31), with a Redis accessory the hooks write to:
pre_deploy runs in a container of the NEW release (its configuration, the accessory by name, the
release's id in DOCKYARD_RELEASE) before any replica of it starts; post_switch after live traffic
reaches it; a failing post_switch in an environment that says `on_failure: rollback` puts the
release before back by itself; every run is in the audit log and the task history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.engine import labels as L
from dockyard.state.db import StateDB
from tests.apps import TestApp
from tests.conftest import remove_app_resources, run_cli
from tests.datastores import ok, redis_app

pytestmark = pytest.mark.integration

HOOKS = """\
hooks:
  pre_deploy:
    command: >-
      printf 'SET pre %s-%s\\r\\nQUIT\\r\\n' "$DOCKYARD_RELEASE" "$GREETING" | nc "$DB_HOST" "$DB_PORT" | head -1
  post_switch:
    command: >-
      echo "switched from ${DOCKYARD_PREVIOUS_RELEASE:-nothing} with $(cat /etc/app/app.conf)" &&
      test "$GREETING" != broken
    timeout: 30s
"""


def redis_get(client: docker.DockerClient, app: TestApp, key: str) -> str:
    db = client.containers.get(f"{app.name}_site_db")
    return str(db.exec_run(["redis-cli", "GET", key]).output.decode().strip())


def running_releases(client: docker.DockerClient, app: TestApp) -> set[str]:
    return {c.labels[L.RELEASE] for c in client.containers.list(filters={"label": [f"{L.APP}={app.name}",
                                                                                    L.MANAGED]})}


@pytest.fixture
def app(tmp_path: Path, docker_client: docker.DockerClient, dockyard_env: Path) -> Iterator[TestApp]:
    made = redis_app(tmp_path)
    spec = made.spec_file.read_text().replace("  site: {engine: local, registry: local}",
                                              "  site: {engine: local, registry: local, on_failure: rollback}")
    made.write("dockyard.yml", spec.replace("environments:\n", HOOKS + "environments:\n", 1))
    made.commit("hooks")
    ok("config", "set", "site", "GREETING=one", "DB_TOKEN=t0ken", cwd=made.path)
    ok("accessory", "boot", "site", "db", cwd=made.path)
    ok("build", cwd=made.path)
    try:
        yield made
    finally:
        remove_app_resources(docker_client, made.name)


def test_hooks_run_around_a_deploy_and_a_failed_post_switch_rolls_back(
        app: TestApp, docker_client: docker.DockerClient) -> None:
    out = ok("deploy", "site", cwd=app.path)
    first = json.loads(ok("releases", "site", "--json", cwd=app.path))[0]["release_id"]
    assert redis_get(docker_client, app, "pre") == f"{first}-one"  # the new release's id and configuration
    assert out.index("hook pre_deploy") < out.index("started ") < out.index("hook post_switch"), out
    assert "| switched from nothing with greeting=one" in out  # its rendered files too

    ok("config", "set", "site", "GREETING=broken", cwd=app.path)
    failed = run_cli("deploy", "site", cwd=app.path)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert "the post_switch hook of release" in failed.stderr and "failed (exit 1)" in failed.stderr, failed.stderr
    assert f"back on release {first}" in failed.stderr
    second = redis_get(docker_client, app, "pre").removesuffix("-broken")
    assert second != first and f"switched from {first} with greeting=broken" in failed.stdout + failed.stderr
    assert running_releases(docker_client, app) == {first}  # put back by itself
    history = json.loads(ok("releases", "site", "--json", cwd=app.path))
    assert [(r["release_id"], r["status"]) for r in history[:2]] == [(first, "live"), (second, "superseded")]
    assert history[0]["note"] == f"restored: release {first} after a failed post_switch hook"
    assert not docker_client.containers.list(filters={"label": [f"{L.APP}={app.name}", L.TASK]})  # none runs

    runs = StateDB().task_runs(app.name, "site", "hook.")
    assert [(r.kind, r.status, r.release_id) for r in runs] == [
        ("hook.post_switch", "failed", second), ("hook.pre_deploy", "succeeded", second),
        ("hook.post_switch", "succeeded", first), ("hook.pre_deploy", "succeeded", first)]
    audit = json.loads(ok("audit", "site", "--json", cwd=app.path))
    hooks = [(row["action"], row["outcome"]) for row in audit if row["action"].startswith("hook")]
    assert hooks[0] == ("hook post_switch", "failed: failed (exit 1) in " + hooks[0][1].rsplit(" in ", 1)[1])
    assert len(hooks) == 4

"""The release task and the hooks on the real two-node Swarm (issue 31): each a service of one task,
never restarted, with the release's configuration files and secrets as Swarm configs and secrets,
run before any service of the release starts (the hook after the switch, after); once per release;
a failing one starts nothing of its release; none is left once the next deploy has run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from dockyard.deploy.one_off import LOG_GRACE
from dockyard.engine import labels as L
from dockyard.state.db import StateDB
from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.integration.swarm.conftest import home_env
from tests.integration.swarm.pool import MAIN_HOST, PUBLISH_NET, Pool

pytestmark = pytest.mark.integration

TASKS = """\
release:
  command: 'echo "migrating $DOCKYARD_RELEASE to $(cat /etc/app/app.conf) with $(ls /run/secrets)"'
hooks:
  post_switch: {command: 'echo "switched from ${DOCKYARD_PREVIOUS_RELEASE:-nothing}"'}
"""


@pytest.fixture
def swarm_tasks_app(swarm_pool: Pool, tmp_path: Path, docker_client: docker.DockerClient
                    ) -> Iterator[tuple[TestApp, dict[str, str]]]:
    env = home_env(tmp_path)
    app = make_app(tmp_path, replicas=2, extra_envs="  swarm: {engine: swarm, registry: local}\n")
    app.write("dockyard.yml", app.spec_file.read_text().replace("environments:\n", TASKS + "environments:\n"))
    app.commit("a release task and a hook, on swarm")
    try:
        yield app, env
    finally:
        for service in docker_client.services.list(filters={"label": f"dockyard.app={app.name}"}):
            service.remove()
        remove_app_resources(docker_client, app.name)


def one_off_services(client: docker.DockerClient, app: TestApp) -> list:
    return client.services.list(filters={"label": [f"{L.APP}={app.name}", L.TASK]})


def test_release_task_and_hook_run_once_as_services_of_one_task(swarm_tasks_app, docker_client) -> None:
    app, env = swarm_tasks_app

    def cli(*args: str) -> tuple[int, str]:
        result = run_cli(*args, cwd=app.path, env=env)
        assert "Traceback" not in result.stderr
        return result.returncode, result.stdout + result.stderr

    for args in (("engine", "add", "swarm", "--host", MAIN_HOST, "--swarm", "--publish-network", PUBLISH_NET),
                 ("build",), ("config", "set", "swarm", "GREETING=hi")):
        assert cli(*args)[0] == 0
    assert run_cli("config", "set", "swarm", "DB_TOKEN", "--secret", cwd=app.path, env=env,
                   input="t0ken").returncode == 0
    code, out = cli("deploy", "swarm")
    assert code == 0, out
    release = json.loads(cli("releases", "swarm", "--json")[1])[0]["release_id"]
    assert f"| migrating {release} to greeting=hi with DB_TOKEN" in out, out  # its files and secrets
    assert out.index(f"release task of release {release}: succeeded") < out.index(f"{app.name}_swarm_web")
    assert "| switched from nothing" in out
    services = docker_client.services.list(filters={"label": f"dockyard.app={app.name}"})
    assert [s.name for s in services if L.TASK not in s.attrs["Spec"]["Labels"]] == [f"{app.name}_swarm_web"]

    time.sleep(LOG_GRACE)
    code, again = cli("deploy", "swarm")  # the same release: nothing runs; what the last one left goes
    assert code == 0 and "already runs release" in again and "release task:" not in again, again
    assert one_off_services(docker_client, app) == []
    assert [t.status for t in StateDB(Path(env["DOCKYARD_HOME"]) / "state.db").release_tasks(
        app.name, "swarm", release)] == ["succeeded"]

    app.write("dockyard.yml", app.spec_file.read_text().replace(
        'echo "migrating', 'echo "cannot migrate" >&2; exit 3; echo "migrating'))
    app.commit("a broken release task")
    assert cli("build")[0] == 0
    code, failed = cli("deploy", "swarm")
    assert code != 0 and "failed (exit 3)" in failed and "cannot migrate" in failed, failed
    web = docker_client.services.get(f"{app.name}_swarm_web")
    assert web.attrs["Spec"]["Labels"][L.RELEASE] == release  # nothing of the new release started
    assert json.loads(cli("releases", "swarm", "--json")[1])[0]["release_task"]["exit_code"] == 3

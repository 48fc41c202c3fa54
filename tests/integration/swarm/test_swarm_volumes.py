"""A service with a volume on the real two-node Swarm (issue 16): pinned by a node label to the
node its data is on, its data kept across a new release there; `down --purge` removes the data
and the label."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.apps import DOCKERFILE, TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.integration.swarm.conftest import home_env
from tests.integration.swarm.pool import MAIN_HOST, PUBLISH_NET, Pool
from tests.integration.volumes.test_volumes import RECORDS_CGI

pytestmark = pytest.mark.integration


@pytest.fixture
def swarm_volume_app(swarm_pool: Pool, tmp_path: Path, docker_client: docker.DockerClient
                     ) -> Iterator[tuple[TestApp, dict[str, str]]]:
    env = home_env(tmp_path)
    app = make_app(tmp_path, replicas=1, extra_envs="  swarm: {engine: swarm, registry: local}\n")
    app.write("Dockerfile", DOCKERFILE.replace("USER", 'RUN ["/bin/sh", "-c", "mkdir /data && chown 65534 /data"]\n'
                                                        "USER"))
    app.write("www/cgi-bin/records", RECORDS_CGI)
    app.write("dockyard.yml", app.spec_file.read_text().replace(
        "    replicas: 1\n", "    replicas: 1\n    volumes: [{name: data, path: /data}]\n"))
    app.commit("records on a volume, on swarm")
    try:
        yield app, env
    finally:
        for service in docker_client.services.list(filters={"label": f"dockyard.app={app.name}"}):
            service.remove()
        for node in docker_client.nodes.list():
            spec = dict(node.attrs["Spec"])
            labels = {k: v for k, v in (spec.get("Labels") or {}).items() if app.name not in k}
            if labels != (spec.get("Labels") or {}):
                node.update({**spec, "Labels": labels})
        remove_app_resources(docker_client, app.name)


def test_a_service_with_a_volume_is_pinned_to_its_node_and_keeps_its_data(swarm_volume_app, swarm_pool: Pool,
                                                                          docker_client) -> None:
    app, env = swarm_volume_app

    def ok(*args: str) -> str:
        result = run_cli(*args, cwd=app.path, env=env)
        assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def url() -> str:
        [row] = [r for r in json.loads(ok("ps", "swarm", "--json")) if r["state"] == "running"]
        return str(row["url"])

    ok("engine", "add", "swarm", "--host", MAIN_HOST, "--swarm", "--publish-network", PUBLISH_NET)
    ok("build")
    ok("config", "set", "swarm", "GREETING=one")
    ok("deploy", "swarm")
    label = f"dockyard.data.{app.name}.swarm.web"
    pinned = [n for n in docker_client.nodes.list() if (n.attrs["Spec"].get("Labels") or {}).get(label) == "true"]
    assert [n.id for n in pinned] == [docker_client.info()["Swarm"]["NodeID"]]  # the manager, and only it
    [service] = docker_client.services.list(filters={"label": f"dockyard.app={app.name}"})
    assert f"node.labels.{label}==true" in service.attrs["Spec"]["TaskTemplate"]["Placement"]["Constraints"]
    first = url()
    for n in range(20):
        assert httpx.get(f"{first}/cgi-bin/records?add={n}", timeout=5).text.strip() == "added"

    app.write("www/index.html", "v2\n")
    app.commit("v2")
    ok("build")
    ok("deploy", "swarm")
    [task] = [t for t in service.tasks(filters={"desired-state": "running"}) if t["Status"]["State"] == "running"]
    assert task["NodeID"] == pinned[0].id
    assert httpx.get(f"{url()}/cgi-bin/records", timeout=5).text.split() == [str(n) for n in range(20)]
    volume = docker_client.volumes.get(f"dockyard_{app.name}_swarm_web_data")
    assert volume.attrs["Labels"]["dockyard.volume"] == "data"

    out = ok("down", "swarm", "--purge", "--yes")
    assert "unpinned its data from node" in out
    assert not any(label in (n.attrs["Spec"].get("Labels") or {}) for n in docker_client.nodes.list())
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(f"dockyard_{app.name}_swarm_web_data")

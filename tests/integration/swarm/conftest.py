"""The two-node pool (session) and one app deployed on it (module), both removed afterwards."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources
from tests.integration.swarm.pool import Pool, leftovers


def home_env(root: Path) -> dict[str, str]:
    """The environment of a Dockyard CLI with its home, store and secret key under `root`."""
    home = root / "home"
    return {"DOCKYARD_HOME": str(home), "DOCKYARD_CONFIG_STORE": f"sqlite:///{home}/config.db",
            "DOCKYARD_SECRET_KEY_FILE": str(root / "keys" / "secret.key"), "DOCKYARD_RUN": "/run/dockyard-test",
            "DOCKYARD_USER": "tester"}


@pytest.fixture(scope="session")
def swarm_pool(docker_client: docker.DockerClient) -> Iterator[Pool]:
    if os.geteuid() != 0:
        pytest.skip("the two-node pool needs root (ip netns, a second dockerd)")
    if docker_client.info()["Swarm"]["LocalNodeState"] != "inactive":
        pytest.skip("the main dockerd is already in a swarm; the pool test leaves it alone")
    pool = Pool(main=docker_client)
    try:
        pool.up()
        yield pool
    finally:
        pool.down()
        problems = leftovers(docker_client) + pool.log
        assert not problems, "swarm pool teardown: " + "; ".join(problems)


@pytest.fixture(scope="module")
def swarm_app(swarm_pool: Pool, tmp_path_factory: pytest.TempPathFactory,
              docker_client: docker.DockerClient) -> Iterator[tuple[TestApp, dict[str, str]]]:
    root = tmp_path_factory.mktemp("swarm")
    env = home_env(root)
    app = make_app(Path(root), replicas=4,
                   extra_envs="  swarm: {engine: swarm, registry: local}\n")
    try:
        yield app, env
    finally:
        for service in docker_client.services.list(filters={"label": f"dockyard.app={app.name}"}):
            service.remove()
        remove_app_resources(docker_client, app.name)


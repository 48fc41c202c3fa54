"""Fixtures shared by the integration and e2e tiers: real dockerd, etcd and registries."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import docker.models.containers
import pytest

from tests import own_engine
from tests.apps import TestApp, make_app

# docker-py's containers.list() inspects each container it lists, and fails when one is removed in
# between: a test that polls an app's containers while a deploy replaces them failed so (an engine
# restart in the middle of a rolling deploy, 2026-12-07). Every test's listing skips a container
# that is gone, as the listing a moment later would.
docker.models.containers.ContainerCollection.list = functools.partialmethod(  # type: ignore[method-assign]
    docker.models.containers.ContainerCollection.list, ignore_removed=True)

# How `make test` runs the suite (scripts/test.sh):
# - OWN_ENGINE: in a network namespace with a dockerd of their own (tests/lane.py, tests/own_engine.py),
#   beside the rest: they restart their engine or make it a Swarm manager with a second node, and
#   none of it reaches another test (the other fault tests go with them, and others to even the lanes);
# - SERIAL: one after another in one process, beside the rest: they start the second dockerd on its
#   fixed port, or time a load whose figures another of them would skew (and one to even the lanes);
# - EXCLUSIVE: alone, after everything else: they time what a load sees (beside the rest, on two
#   cores, the blue/green test saw 7 of its 10 releases where it wants 8, and the autoscaling test's
#   new replica did not serve within its 32 s);
# - every other file on two pytest-xdist workers (its tests together, its module fixtures made once).
# Lanes of about the same length on two cores. make test, 2026-12-07: shared 13:18, serial 9:03, own
# engine 8:13; then shared 12:57, serial 10:00, own 9:11 with the blue/green CLI tests in the own lane
# and the deploy CLI tests in the serial one; the notification and data tests followed them; the
# jobs tests (a minute of the shared lane) to the serial one.
OWN_ENGINE = ("tests/integration/faults/", "tests/integration/swarm/",
              "tests/integration/bluegreen/test_bluegreen_cli.py", "tests/integration/server/test_notifications.py",
              "tests/integration/accessories/test_data.py")
EXCLUSIVE = ("tests/e2e/test_bluegreen.py", "tests/e2e/test_autoscale.py")
SERIAL = (
    "tests/e2e/",
    "tests/integration/scale/",
    "tests/integration/deploy/test_tls_engine.py",
    "tests/integration/edge/test_edge.py",
    "tests/integration/bluegreen/test_workers.py",
    "tests/integration/deploy/test_deploy_cli.py",
    "tests/integration/server/test_jobs.py",
)


def pytest_itemcollected(item: pytest.Item) -> None:
    path = item.path.relative_to(item.config.rootpath).as_posix()
    if path.startswith(OWN_ENGINE):
        item.add_marker(pytest.mark.own_engine)
    elif path.startswith(EXCLUSIVE):
        item.add_marker(pytest.mark.exclusive)
    elif path.startswith(SERIAL):
        item.add_marker(pytest.mark.serial)


def pytest_sessionstart(session: pytest.Session) -> None:
    own_engine.start_for_session()  # in the own-engine lane only (its variable is set)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    own_engine.stop_for_session()


@pytest.fixture
def dockyard_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private DOCKYARD_HOME, config store and secret key, so tests never touch a real site."""
    home = tmp_path / "home"
    monkeypatch.setenv("DOCKYARD_HOME", str(home))
    monkeypatch.setenv("DOCKYARD_CONFIG_STORE", f"sqlite:///{home}/config.db")
    monkeypatch.setenv("DOCKYARD_SECRET_KEY_FILE", str(tmp_path / "keys" / "secret.key"))
    monkeypatch.setenv("DOCKYARD_RUN", "/run/dockyard-test")
    monkeypatch.setenv("DOCKYARD_USER", "tester")
    return home


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    client.ping()
    yield client
    client.close()


def remove_app_networks(client: docker.DockerClient, app: str) -> None:
    """The app's environment networks (dockyard-APP-ENV), once its containers are gone."""
    for network in client.networks.list(filters={"label": f"dockyard.app={app}"}):
        try:
            network.remove()
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 403:
                raise
            # "has active endpoints": a one-off of the app (a hook's) started after its containers were
            # listed; what is still on its network goes too, then the network
            network.reload()
            for endpoint in network.attrs.get("Containers") or {}:
                try:
                    client.containers.get(endpoint).remove(force=True)
                except docker.errors.APIError:
                    pass  # gone meanwhile, or its removal is under way
            network.remove()


def remove_app_resources(client: docker.DockerClient, app: str) -> None:
    for container in client.containers.list(all=True, filters={"label": f"dockyard.app={app}"}):
        secrets_dir = (container.labels or {}).get("dockyard.secrets-dir", "")
        if secrets_dir.startswith("/run/dockyard-test/"):  # its secret files on the tests' tmpfs
            shutil.rmtree(secrets_dir, ignore_errors=True)
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass  # gone meanwhile (a Swarm task its service's removal took)
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: its removal is already in progress
                raise
    remove_app_networks(client, app)
    for volume in client.volumes.list(filters={"label": f"dockyard.app={app}"}):
        volume.remove(force=True)
    # the low-level list: the high-level one inspects each image, and fails on one that another
    # test's cleanup removed meanwhile (tests run side by side)
    for image in client.api.images(filters={"label": "dockyard.commit"}):
        # the app's images, and its accessories' (APP-NAME:TAG)
        if any(tag.split("/")[-1].startswith((f"{app}:", f"{app}-")) for tag in image.get("RepoTags") or []):
            try:
                # noprune: its untagged parents are build cache that every test app shares (the same
                # Dockerfile); pruned here, a build beside this one fails on the layer it just reused
                client.images.remove(image["Id"], force=True, noprune=True)
            except docker.errors.NotFound:
                pass  # removed meanwhile by another test's cleanup


@pytest.fixture
def test_app(tmp_path: Path, dockyard_env: Path, docker_client: docker.DockerClient,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[TestApp]:
    app = make_app(tmp_path)
    monkeypatch.chdir(app.path)
    try:
        yield app
    finally:  # the balancers of any blue-green environment a test gave it, then its containers
        from dockyard.router.nginx import NginxRouter

        for folder in sorted((dockyard_env / "router").glob(f"{app.name}_*")):
            NginxRouter(app.name, folder.name.removeprefix(f"{app.name}_"), home=dockyard_env).stop(timeout=5)
        remove_app_resources(docker_client, app.name)


def run_cli(*args: str, cwd: Path | None = None, input: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `dockyard` console script, as a user would."""
    dockyard = str(Path(sys.executable).parent / "dockyard")
    return subprocess.run([dockyard, *args], cwd=cwd, input=input, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)

"""A row from the engine's listing alone (engine/listing.listed: one call per engine, what `ps`,
`status` and a release's view read) is the row an inspect of each container makes: names, labels,
state, a health command's verdict through its starting, healthy and unhealthy phases, the
127.0.0.1 port, a stopped container."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import docker
import pytest

from dockyard.engine import labels as L
from dockyard.engine.listing import listed, replicas
from dockyard.engine.rows import container_row
from dockyard.engine.wire import Wire
from dockyard.settings_base import EngineSettings

pytestmark = pytest.mark.integration

IMAGE = "dockyard/busybox:1.35"
NANO = 1_000_000_000


@pytest.fixture
def app(docker_client: docker.DockerClient) -> Iterator[str]:
    name = f"listed{secrets.token_hex(4)}"
    yield name
    for container in docker_client.containers.list(all=True, filters={"label": f"{L.APP}={name}"}):
        container.remove(force=True)


def start(client: docker.DockerClient, app: str, service: str, health_cmd: str | None, grace: int = 0) -> None:
    healthcheck = None if health_cmd is None else {"test": ["CMD-SHELL", health_cmd], "interval": NANO // 5,
                                                   "timeout": NANO, "retries": 1, "start_period": grace * NANO}
    client.containers.run(IMAGE, ["sh", "-c", "httpd -f -p 8080 -h /"], detach=True, name=f"{app}_{service}",
                          labels={L.MANAGED: "1", L.APP: app, L.ENV: "e", L.SERVICE: service, L.REPLICA: "1"},
                          ports={"8080/tcp": ("127.0.0.1", None)}, healthcheck=healthcheck)


def rows(wire: Wire, app: str) -> tuple[list, list]:
    by_listing = sorted((container_row(c) for c in listed(wire, app, None, None, True)), key=lambda r: r.name)
    by_inspect = sorted((container_row(c) for c in replicas(wire, app, None, None, True)), key=lambda r: r.name)
    return by_listing, by_inspect


def test_a_listed_row_is_the_inspected_row_through_every_health_phase(docker_client: docker.DockerClient,
                                                                      app: str) -> None:
    wire = Wire(EngineSettings(host="unix:///var/run/docker.sock"))
    start(docker_client, app, "plain", None)
    start(docker_client, app, "slow", "false", grace=120)  # failing in its start period: "starting"
    start(docker_client, app, "good", "true")
    start(docker_client, app, "bad", "false")
    stopped = docker_client.containers.run(IMAGE, ["true"], detach=True, name=f"{app}_done",
                                           labels={L.MANAGED: "1", L.APP: app, L.ENV: "e", L.SERVICE: "done"})
    stopped.wait(timeout=30)
    deadline = time.monotonic() + 30
    while True:
        by_listing, by_inspect = rows(wire, app)
        health = {r.service: r.engine_health for r in by_inspect}
        if health == {"plain": None, "slow": "starting", "good": "healthy", "bad": "unhealthy", "done": None}:
            break
        assert time.monotonic() < deadline, health
        time.sleep(0.2)
    assert by_listing == by_inspect
    # what a blue-green colour reads of a running replica too (router/colors.to_replica)
    inspected = {c.id: c for c in replicas(wire, app, None, None, True)}
    for listed_one in listed(wire, app, None, None, True):
        if listed_one.status == "running":
            whole = inspected[listed_one.id]
            assert (listed_one.publishes, listed_one.asks_ports, listed_one.loopback_port(), listed_one.health) == \
                (whole.publishes, whole.asks_ports, whole.loopback_port(), whole.health)
    by_service = {r.service: r for r in by_listing}
    assert by_service["good"].url is not None and by_service["good"].url.startswith("http://127.0.0.1:")
    assert by_service["done"].state == "exited" and not by_service["done"].running and by_service["done"].url is None
    wire.close()

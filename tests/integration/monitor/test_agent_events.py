"""The agent's one event stream, filtered by the engine (issue 30: the agent under 1 % of a core):
only its own containers' events, only the actions it acts on, from the real dockerd over the unix
socket. A busy host's other containers, builds and execs (a HEALTHCHECK is an exec each interval)
cost the agent nothing; a container turning unhealthy still arrives (the engine matches
"health_status" by prefix)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from dockyard.engine.facts import ContainerEvent
from dockyard.engine.local_socket import connect_reads
from dockyard.monitor.inventory import EVENT_ACTIONS

pytestmark = pytest.mark.integration

IMAGE = "dockyard/busybox:1.35"
RUN = secrets.token_hex(3)
OURS = {"dockyard.test": f"agent-events-{RUN}"}


@pytest.fixture
def client() -> Iterator[docker.DockerClient]:
    c = docker.from_env(timeout=60)
    yield c
    for label in (f"dockyard.test=agent-events-{RUN}", f"dockyard.test=agent-events-other-{RUN}"):
        for container in c.containers.list(all=True, filters={"label": label}):
            container.remove(force=True)
    c.close()


def test_the_engine_sends_only_our_containers_events_that_count(client: docker.DockerClient) -> None:
    engine = connect_reads("local")
    stream = engine.container_events(int(time.time()), OURS, EVENT_ACTIONS)
    seen: list[ContainerEvent] = []

    def read() -> None:
        try:
            seen.extend(stream)
        except Exception:  # noqa: BLE001 - closed under the reader at the end, as the inventory's is
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # unhealthy within about 3 s: an exec every 0.5 s that fails (exec events we must not get)
        check: dict[str, Any] = {"test": ["CMD", "false"], "interval": 500_000_000, "timeout": 1_000_000_000,
                                 "retries": 2, "start_period": 0}
        ours = client.containers.run(IMAGE, ["sleep", "3600"], detach=True, labels=OURS, healthcheck=check,
                                     name=f"agent-events-{RUN}")
        other = client.containers.run(IMAGE, ["sleep", "3600"], detach=True, name=f"agent-events-other-{RUN}",
                                      labels={"dockyard.test": f"agent-events-other-{RUN}"})
        ours.exec_run(["true"])
        deadline = time.monotonic() + 20
        while not any(e.action == "health_status" for e in seen) and time.monotonic() < deadline:
            time.sleep(0.2)
        other.kill()
        ours.kill()
        deadline = time.monotonic() + 10
        while not any(e.action == "die" for e in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stream.close()
        reader.join(5)
        engine.close()
    assert {e.id for e in seen} == {ours.id}, [(e.action, e.name) for e in seen]
    actions = [e.action for e in seen]
    assert set(actions) <= set(EVENT_ACTIONS), actions  # no create, exec_*, kill, attach ...
    assert actions[0] == "start" and "die" in actions, actions
    assert any(e.action == "health_status" and e.detail == "unhealthy" for e in seen), actions

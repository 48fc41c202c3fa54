"""The fault matrix: `dockyard agent` SIGKILLed in the middle of its work, three times, while ten
containers write and rotate their logs and the log store is locked for a while. Restarted each
time (as its unit's Restart=always does), it loses no line and stores none twice."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import docker
import httpx
import pytest

from tests.integration.logs.harness import (
    IMAGE,
    RUN_LABEL,
    TEST_LABEL,
    ForwarderProcess,
    Plan,
    agent_argv,
    free_listen,
    remove_run,
    run,
)

pytestmark = pytest.mark.integration


def test_an_agent_killed_three_times_loses_no_log_line(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    plan = Plan(containers=6, lines_each=2000, chunks=10, pause=0.6, max_size="100k", max_file=5,
                kills=3, kill_every=1.5, outage=3.0, outage_at=2.0, deadline=45.0, agent=True)
    outcome = run(docker_client, tmp_path, plan, say=print)
    print(outcome)
    log = (tmp_path / "forwarder.log").read_text()
    assert outcome.kills == 3
    assert (outcome.lost, outcome.duplicated) == (0, 0), f"{outcome}\n{log[-3000:]}"
    assert outcome.stored == plan.total
    assert outcome.losses_recorded == []
    assert log.count("dockyard agent on ") == 4 and "Traceback" not in log  # started four times, no crash


def test_what_the_engine_did_while_the_agent_was_down_is_an_event_when_it_is_back(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """The agent keeps its place in the engine's event stream: a container that died and was
    restarted, and one that died for good, while it was SIGKILLed, are events once it runs again."""
    run_id = secrets.token_hex(4)
    labels = {TEST_LABEL: "agent-crash", RUN_LABEL: run_id, "dockyard.app": f"crash{run_id}", "dockyard.env": "t",
              "dockyard.service": "web"}
    made = [docker_client.containers.run(IMAGE, ["sleep", "3600"], detach=True, name=f"crash-{run_id}-{n}",
                                         labels=labels, restart_policy={"Name": "unless-stopped"}) for n in (1, 2)]
    listen = free_listen()
    agent = ForwarderProcess(agent_argv(run_id, listen), tmp_path / "agent.log",
                             env={"DOCKYARD_HOME": str(tmp_path / "home")})
    try:
        agent.start()
        events_url = f"http://{listen}/api/events"
        assert wait_until(lambda: _answers(events_url), 20)
        time.sleep(1.5)  # its place in the stream is kept once a second
        agent.kill()
        made[0].restart(timeout=1)  # died and came back
        made[1].kill()  # died for good
        agent.start()
        wanted = {("container:died", made[0].name), ("container:restarted", made[0].name),
                  ("container:died", made[1].name)}
        assert wait_until(lambda: wanted <= _events(events_url), 20), _events(events_url)
    finally:
        agent.stop() if agent.proc is not None else None
        remove_run(docker_client, run_id)


def wait_until(check, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _events(url: str) -> set[tuple[str, str]]:
    try:
        return {(e["rule"], e["container"]) for e in httpx.get(url, params={"limit": 200}, timeout=2).json()}
    except httpx.HTTPError:
        return set()

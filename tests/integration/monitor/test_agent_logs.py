"""The agent's log forwarder as the agent runs it (issue 30: gathering 1 s between turns, no event
stream of its own: the inventory's wakes it, a folder scan every 5 s besides): nothing lost, nothing
twice, through rotation, SIGKILLs and a store outage, and for a container that starts after the agent
and is removed as soon as it exits."""

from __future__ import annotations

import secrets
import sqlite3
import time
from pathlib import Path

import docker
import pytest

from tests.integration.logs.harness import (
    IMAGE,
    PAYLOAD,
    RUN_LABEL,
    TEST_LABEL,
    ForwarderProcess,
    Plan,
    agent_argv,
    run,
    wait_for_line,
)
from tests.ports import free_listen

pytestmark = pytest.mark.integration


def test_the_agents_forwarder_loses_and_doubles_nothing(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    plan = Plan(containers=8, lines_each=2000, chunks=10, pause=0.6, max_size="100k", max_file=5, kills=2,
                kill_every=2.5, outage=3.0, outage_at=2.0, deadline=60.0, agent=True)
    outcome = run(docker_client, tmp_path, plan, say=print)
    print(outcome)
    log = (tmp_path / "forwarder.log").read_text()[-3000:]
    assert outcome.kills == 2
    assert (outcome.lost, outcome.duplicated) == (0, 0), f"{outcome}\n{log}"
    assert outcome.stored == plan.total and outcome.losses_recorded == []


def stored(store: Path, app: str) -> list[str]:
    if not store.exists():
        return []
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        return [m for (m,) in db.execute("select l.msg from lines l join containers c on c.id = l.c where c.app = ?",
                                         (app,))]
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def test_a_container_started_later_and_removed_at_once_is_read_whole(tmp_path: Path,
                                                                   docker_client: docker.DockerClient) -> None:
    """Its folder goes with it: the forwarder must have opened its log before (woken by the inventory's
    start event, not the 5 s scan), then reads the rest through the descriptor it holds."""
    run_id = secrets.token_hex(4)
    app = f"late{run_id}"
    agent = ForwarderProcess(agent_argv(run_id, free_listen()), tmp_path / "agent.log",
                             env={"DOCKYARD_HOME": str(tmp_path / "home")})
    agent.start()
    try:
        wait_for_line(tmp_path / "agent.log", "dockyard agent on ", 1, timeout=30.0)
        time.sleep(2.0)  # well after the agent's first scan
        script = f'seq 1 300 | while read n; do echo "$n {PAYLOAD}"; [ $((n % 100)) = 0 ] && sleep 0.5; done'
        container = docker_client.containers.run(
            IMAGE, ["sh", "-c", script], detach=True, name=f"late-{run_id}",
            labels={TEST_LABEL: "logs", RUN_LABEL: run_id, "dockyard.app": app, "dockyard.env": "testing",
                    "dockyard.service": "late"})
        container.wait(timeout=30)
        container.remove()
        store = tmp_path / "home" / "logs" / "store.db"
        deadline = time.monotonic() + 15
        while len(stored(store, app)) < 300 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.5)  # a line stored twice would show now
        lines = stored(store, app)
        numbers = sorted(int(m.split()[0]) for m in lines)
        assert numbers == list(range(1, 301)), (len(lines), agent.log.read_text()[-2000:])
    finally:
        agent.stop()
        for c in docker_client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}):
            c.remove(force=True)

"""The fault matrix: `dockyard agent` SIGKILLed in the middle of its work, three times, while ten
containers write and rotate their logs and the log store is locked for a while. Restarted each
time (as its unit's Restart=always does), it loses no line and stores none twice."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.integration.logs.harness import Plan, run

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

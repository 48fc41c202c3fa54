"""Nothing lost, nothing twice: rotation, three SIGKILLs of the forwarder and a store outage."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from tests.integration.logs.harness import Plan, run

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("mode", [(), ("--via-spool",)], ids=["direct", "via-spool"])
def test_no_line_lost_or_duplicated(tmp_path: Path, docker_client: docker.DockerClient, mode: tuple[str, ...]) -> None:
    plan = Plan(containers=10, lines_each=3000, chunks=10, pause=0.6, max_size="100k", max_file=5,
                kills=3, kill_every=1.5, outage=5.0, outage_at=2.0, deadline=45.0, forwarder_args=mode)
    outcome = run(docker_client, tmp_path, plan, say=print)
    print(outcome)
    log = (tmp_path / "forwarder.log").read_text()[-3000:]
    assert outcome.kills == 3 and outcome.outage_seconds == plan.outage
    assert (outcome.lost, outcome.duplicated) == (0, 0), f"{outcome}\n{log}"
    assert outcome.stored == plan.total
    assert outcome.losses_recorded == []

"""The release task on the fake engine (issue 31): once per release, in a one-off container of the
new release, before any replica of it starts; a failure starts nothing and switches nothing; a
task a killed deploy left is collected, not run twice; a rollback runs none unless asked."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dockyard.deploy.promote import rollback
from dockyard.deploy.release_task import ReleaseTaskFailed
from dockyard.engine import labels as L
from dockyard.errors import SpecError
from dockyard.spec import parse_spec
from tests.fakes.deploys import IMAGES, SPEC, Site

TASKED = SPEC + "release: {command: [./manage.py, migrate], timeout: 5m}\n"


def task_steps(site: Site) -> list[str]:
    return [a for a in site.actions if "_release_" in a]


def replica_creates(site: Site) -> list[str]:
    return [a for a in site.actions if a.startswith("create ") and "_release_" not in a]


@pytest.fixture
def site(dockyard_env: Path, tmp_path: Path) -> Site:
    return Site(tmp_path, TASKED)


def test_the_task_runs_once_per_release_before_any_replica_starts(site: Site) -> None:
    outcome = site.deployer.deploy("testing", image=IMAGES["r1"])
    name = f"shop_testing_release_{outcome.release_id}"
    assert site.actions[:4] == ["network create dockyard_shop_testing", f"create {name}", f"start {name}",
                                f"await {name}"]  # it ended before the first replica is made
    assert replica_creates(site) and site.actions.index(replica_creates(site)[0]) > 3
    # removed when the deploy ends (the host's log forwarder reads its output meanwhile)
    assert site.actions[-1] == f"remove {name}" and site.engine.task_containers("shop", "testing") == []
    [record] = site.db.release_tasks("shop", "testing")
    assert (record.release_id, record.status, record.exit_code) == (outcome.release_id, "succeeded", 0)
    assert not [c for c in site.engine.containers.values() if L.TASK in c.labels]

    site.actions.clear()
    site.engine.containers.clear()  # the replicas are gone: the same release deploys again
    site.deployer.deploy("testing", image=IMAGES["r1"])
    assert task_steps(site) == [] and replica_creates(site)  # not run again for the same release
    assert any("already succeeded" in line for line in site.log)
    assert len(site.db.release_tasks("shop", "testing")) == 1


def test_a_failing_task_starts_nothing_and_the_next_deploy_runs_it_again(site: Site) -> None:
    site.deployer.deploy("testing", image=IMAGES["r1"])
    before = site.running()
    r2 = site.release("testing", IMAGES["r2"]).release_id
    site.engine.task_exits[r2] = 3
    site.actions.clear()
    with pytest.raises(ReleaseTaskFailed, match=r"release task of release \S+ failed \(exit 3\).*nothing switched"):
        site.deployer.deploy("testing", image=IMAGES["r2"])
    assert replica_creates(site) == [] and site.running() == before  # the old release still serves
    assert site.db.live_release("shop", "testing").image == IMAGES["r1"]
    assert site.db.releases("shop", "testing", 1)[0].status == "failed"
    assert [t.status for t in site.db.release_tasks("shop", "testing", r2)] == ["failed"]

    del site.engine.task_exits[r2]
    site.deployer.deploy("testing", image=IMAGES["r2"])  # runs it again, then the release
    assert [t.status for t in site.db.release_tasks("shop", "testing", r2)] == ["succeeded", "failed"]
    assert site.db.live_release("shop", "testing").image == IMAGES["r2"]


def test_a_task_past_its_timeout_is_a_failure(site: Site) -> None:
    r1 = site.release("testing", IMAGES["r1"]).release_id
    site.engine.task_hangs.add(r1)
    with pytest.raises(ReleaseTaskFailed, match="timed out after 300s"):
        site.deployer.deploy("testing", image=IMAGES["r1"])
    assert replica_creates(site) == []
    assert [t.status for t in site.db.release_tasks("shop", "testing", r1)] == ["timed out"]


def test_a_task_left_by_a_killed_deploy_is_collected_and_not_run_twice(site: Site) -> None:
    r1 = site.release("testing", IMAGES["r1"]).release_id
    name = f"shop_testing_release_{r1}"
    # what a deploy killed in the middle of the task leaves: the container, running, and its row
    spec = site.release("testing", IMAGES["r1"]).workload.replicas[("web", 1)]
    made = site.engine.create_replica(replace(spec, task="release", replica=0, port=None), name)
    site.engine.start_replica(made.id, name)
    site.db.start_task("shop", "testing", r1, name)
    site.actions.clear()
    site.deployer.deploy("testing", image=IMAGES["r1"])
    assert task_steps(site) == [f"await {name}", f"remove {name}"]  # waited for, not started again
    assert [(t.status, t.container) for t in site.db.release_tasks("shop", "testing", r1)] == [("succeeded", name)]
    assert site.db.live_release("shop", "testing").release_id == r1


def test_a_rollback_runs_no_task_unless_asked(site: Site) -> None:
    site.deployer.deploy("testing", image=IMAGES["r1"])
    site.deployer.deploy("testing", image=IMAGES["r2"])
    r1 = site.db.releases("shop", "testing", 10)[-1].release_id
    site.engine.task_exits[r1] = 1  # were it run again, it would fail the rollback
    site.actions.clear()
    rollback(site.deployer, "testing")
    assert task_steps(site) == [] and site.db.live_release("shop", "testing").release_id == r1
    site.deployer.deploy("testing", image=IMAGES["r2"])
    site.actions.clear()
    with pytest.raises(ReleaseTaskFailed):  # asked: r1's task runs again, though it succeeded once, and fails
        rollback(site.deployer, "testing", with_release_task=True)
    assert replica_creates(site) == [] and site.db.live_release("shop", "testing").image == IMAGES["r2"]


def test_blue_green_runs_it_before_the_colour_starts_and_a_failure_switches_nothing(dockyard_env: Path,
                                                                                     tmp_path: Path) -> None:
    site = Site(tmp_path, TASKED)
    site.bluegreen(IMAGES["r1"]).deploy()
    r2 = site.release("production", IMAGES["r2"]).release_id
    site.engine.task_exits[r2] = 1
    site.actions.clear()
    with pytest.raises(ReleaseTaskFailed):
        site.bluegreen(IMAGES["r2"]).deploy()
    assert not any(a.startswith(("create shop_production_web", "route")) for a in site.actions)
    assert site.db.live_release("shop", "production").image == IMAGES["r1"]
    del site.engine.task_exits[r2]
    site.actions.clear()
    site.bluegreen(IMAGES["r2"]).deploy()
    first_replica = next(i for i, a in enumerate(site.actions) if a.startswith("create shop_production_web"))
    assert site.actions.index(f"await shop_production_release_{r2}") < first_replica


def test_on_a_swarm_the_task_is_a_service_of_one_task_before_the_release_s_services(dockyard_env: Path,
                                                                                     tmp_path: Path) -> None:
    site = Site(tmp_path, TASKED, swarm=True)
    release = site.deployer.deploy("testing", image=IMAGES["r1"]).release_id
    name = f"shop_testing_release_{release}"
    acts = site.actions
    assert acts.index(f"await {name}") < acts.index("service create shop_testing_web")
    assert acts[-1] == f"service remove {name}"  # once the deploy ended (no log forwarder waits on a fake)
    assert [s.name for s in site.engine.services("shop", "testing")] == ["shop_testing_web"]  # not a replica
    site.deployer.deploy("testing", image=IMAGES["r1"])
    assert [t.status for t in site.db.release_tasks("shop", "testing", release)] == ["succeeded"]  # once
    r2 = site.release("testing", IMAGES["r2"]).release_id
    site.engine.task_exits[r2] = 2
    with pytest.raises(ReleaseTaskFailed):
        site.deployer.deploy("testing", image=IMAGES["r2"])
    assert {s.release for s in site.engine.services("shop", "testing")} == {release}  # nothing of r2 runs


def test_bad_release_tasks_are_refused_with_file_and_line() -> None:
    base = SPEC
    for text, said in (("release: [migrate]", "release: must be a mapping"),
                       ("release: {command: 5}", "release.command: must be a list of words or one string"),
                       ("release: {command: migrate, timeout: soon}", "release.timeout: must be a duration"),
                       ("release: {command: migrate, service: wbe}", "release.service: unknown service 'wbe'")):
        with pytest.raises(SpecError) as refused:
            parse_spec(base + text + "\n")
        assert any(p.startswith("dockyard.yml:") and said in p for p in refused.value.problems), refused.value.problems


def test_a_failed_task_in_blue_green_keeps_the_colour_kept_for_a_rollback(site: Site) -> None:
    r3_image = "shop@sha256:" + "3" * 64
    site.engine.add_image(r3_image, "sha256:r3")
    r1 = site.deployer.deploy("production", image=IMAGES["r1"]).release_id
    r2 = site.deployer.deploy("production", image=IMAGES["r2"]).release_id
    kept = {(r.name, r.release) for r in site.engine.observe("shop", "production")}
    assert {release for _, release in kept} == {r1, r2}  # r1 idle for the rollback window
    r3 = site.release("production", r3_image).release_id
    site.engine.task_exits[r3] = 1
    with pytest.raises(ReleaseTaskFailed):
        site.deployer.deploy("production", image=r3_image)
    assert {(r.name, r.release) for r in site.engine.observe("shop", "production")} == kept
    assert rollback(site.deployer, "production").release_id == r1  # still a switch back


def test_a_promotion_runs_the_target_environment_s_release_task(site: Site) -> None:
    from dockyard.deploy.promote import promote

    first = site.deployer.deploy("testing", image=IMAGES["r1"]).release_id
    site.actions.clear()
    promoted = promote(site.deployer, "testing")
    assert promoted.env == "production"
    name = f"shop_production_release_{promoted.release_id}"
    assert site.actions.index(f"await {name}") < next(
        i for i, a in enumerate(site.actions) if a.startswith("create shop_production_web"))
    assert [t.status for t in site.db.release_tasks("shop", "production")] == ["succeeded"]
    assert [t.status for t in site.db.release_tasks("shop", "testing", first)] == ["succeeded"]  # its own, once
    assert any("release task of release" in line and "succeeded" in line for line in site.log)  # reported

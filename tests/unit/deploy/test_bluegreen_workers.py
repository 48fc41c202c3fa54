"""Blue/green with a worker beside the web service (issue 27), on the fake engine: the worker moves
with its colour, stands by stopped, starts again on a rollback, and a rollback that cannot complete
leaves both colours exactly as they were."""
from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.deploy.promote import rollback
from dockyard.errors import DeployError
from tests.fakes.deploys import IMAGES, SPEC, Site

WORKER_SPEC = SPEC.replace("environments:", """\
  worker:
    command: [sh, -c, "while true; do sleep 1; done"]
environments:""")
KEEP_SPEC = WORKER_SPEC.replace("preview: 18001}", "preview: 18001, workers: keep}")

BLUE_WORKER, GREEN_WORKER = "shop_production_worker_blue_1", "shop_production_worker_green_1"


def make(home: Path, spec: str = WORKER_SPEC) -> Site:
    """blue serves r1, then r2 is deployed on green: green live, blue on standby; log emptied."""
    site = Site(home, spec)
    site.bluegreen(IMAGES["r1"]).deploy()
    site.bluegreen(IMAGES["r2"]).deploy()
    site.actions.clear()
    site.log.clear()
    return site


def status(site: Site) -> dict[str, str]:
    return {c.name: c.status for c in site.engine.containers.values()}


def test_the_standby_colours_worker_is_stopped_after_the_switch_not_removed(dockyard_env: Path,
                                                                            tmp_path: Path) -> None:
    site = make(tmp_path)
    assert status(site)[BLUE_WORKER] == "exited"  # parked: kept, to start again on a rollback
    assert status(site)[GREEN_WORKER] == "running"
    assert all(s == "running" for name, s in status(site).items() if "-web-" in name)
    assert site.db.live_release("shop", "production").release_id == site.release("production",
                                                                                   IMAGES["r2"]).release_id


def test_workers_keep_leaves_the_standby_worker_running(dockyard_env: Path, tmp_path: Path) -> None:
    site = make(tmp_path, KEEP_SPEC)
    assert set(status(site).values()) == {"running"}


def test_a_rollback_starts_the_parked_worker_switches_and_parks_the_other(dockyard_env: Path,
                                                                          tmp_path: Path) -> None:
    site = make(tmp_path)
    r1, r2 = (site.release("production", IMAGES[n]).release_id for n in ("r1", "r2"))
    outcome = rollback(site.deployer, "production")
    assert outcome.release_id == r1
    assert site.actions == [f"start {BLUE_WORKER}", f"route live=blue({r1}, 2) preview=green({r2}, 2)",
                            f"stop {GREEN_WORKER}"]
    assert status(site)[BLUE_WORKER] == "running" and status(site)[GREEN_WORKER] == "exited"
    assert site.db.live_release("shop", "production").release_id == r1
    # and forward again: the same, the other way
    site.actions.clear()
    assert rollback(site.deployer, "production").release_id == r2
    assert site.actions == [f"start {GREEN_WORKER}", f"route live=green({r2}, 2) preview=blue({r1}, 2)",
                            f"stop {BLUE_WORKER}"]


def test_a_rollback_whose_worker_does_not_come_back_leaves_both_colours_as_they_were(dockyard_env: Path,
                                                                                     tmp_path: Path) -> None:
    site = make(tmp_path)
    before = status(site)
    site.unhealthy.add(BLUE_WORKER)
    with pytest.raises(DeployError, match=f"cannot roll shop/production back .* on blue: {BLUE_WORKER} did not "
                                          "become healthy again.*both colours are as they were, live traffic "
                                          "stays on green"):
        rollback(site.deployer, "production")
    # it was started, found unhealthy and stopped again; nothing removed, nothing routed
    assert site.actions == [f"start {BLUE_WORKER}", f"stop {BLUE_WORKER}"]
    assert status(site) == before
    r2 = site.release("production", IMAGES["r2"]).release_id
    assert site.db.live_release("shop", "production").release_id == r2


def test_a_rollback_to_a_colour_with_a_dead_web_replica_refuses_and_removes_nothing(dockyard_env: Path,
                                                                                    tmp_path: Path) -> None:
    site = make(tmp_path)
    site.engine.container("shop_production_web_blue_2").status = "exited"
    before = status(site)
    with pytest.raises(DeployError, match="shop_production_web_blue_2 of blue are not running"):
        rollback(site.deployer, "production")
    assert not any(a.startswith(("remove", "create", "route")) for a in site.actions)
    assert status(site) == before


def test_a_new_release_replaces_the_standby_colour_whose_worker_is_parked(dockyard_env: Path,
                                                                          tmp_path: Path) -> None:
    """r1 again after r2: blue holds r1 with its worker parked; the deploy starts it and switches."""
    site = make(tmp_path)
    r1, r2 = (site.release("production", IMAGES[n]).release_id for n in ("r1", "r2"))
    site.bluegreen(IMAGES["r1"]).deploy()
    assert site.actions[0] == f"start {BLUE_WORKER}"  # a CHECK of blue, nothing created
    assert not any(a.startswith("create") for a in site.actions)
    assert f"route live=blue({r1}, 2) preview=green({r2}, 2)" in site.actions
    assert site.actions[-1] == f"stop {GREEN_WORKER}"

"""Blue/green on the fake engine and a fake balancer: the exact order of container actions and
traffic switches for a release, a release that fails (health at start, or the check after it),
and the rollback that only switches back (issue 13)."""
from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.deploy.bluegreen import switch_back
from dockyard.errors import DeployError, HealthCheckFailed
from tests.fakes.deploys import IMAGES, Site

GREEN = ["shop_production_web_green_1", "shop_production_web_green_2"]
BLUE = ["shop_production_web_blue_1", "shop_production_web_blue_2"]


@pytest.fixture
def site(dockyard_env: Path, tmp_path: Path) -> Site:
    """blue serves release r1 live; the action log starts empty."""
    site = Site(tmp_path)
    site.bluegreen(IMAGES["r1"]).deploy()
    site.actions.clear()
    site.log.clear()
    return site


def release_of(site: Site, image: str) -> str:
    return site.release("production", image).release_id


def started(names: list[str]) -> list[str]:
    return sorted([f"create {n}" for n in names] + [f"start {n}" for n in names])


def test_a_first_deploy_starts_the_balancer_then_blue_then_previews_and_switches(dockyard_env: Path,
                                                                                 tmp_path: Path) -> None:
    site = Site(tmp_path)
    r1 = release_of(site, IMAGES["r1"])
    site.bluegreen(IMAGES["r1"]).deploy()
    assert site.actions[0] == "route live=- preview=-"  # the balancer comes up first, on nothing
    assert sorted(site.actions[1:6]) == sorted(["network create dockyard_shop_production", *started(BLUE)])
    assert site.actions[6:] == [f"route live=- preview=blue({r1}, 2)", f"route live=blue({r1}, 2) preview=-"]
    assert site.db.live_release("shop", "production").release_id == r1


def test_a_new_release_starts_on_the_idle_colour_and_the_old_stays_on_standby(site: Site) -> None:
    r1, r2 = release_of(site, IMAGES["r1"]), release_of(site, IMAGES["r2"])
    site.bluegreen(IMAGES["r2"]).deploy()
    # green starts and is healthy before any traffic moves; blue is never touched
    assert sorted(site.actions[:4]) == started(GREEN)
    assert site.actions[4:] == [f"route live=blue({r1}, 2) preview=green({r2}, 2)",
                                f"route live=green({r2}, 2) preview=blue({r1}, 2)"]
    assert site.db.live_release("shop", "production").release_id == r2


def test_a_release_failing_its_health_check_is_removed_before_any_traffic_reaches_it(site: Site) -> None:
    r1 = release_of(site, IMAGES["r1"])
    site.unhealthy.add("shop_production_web_green_2")
    with pytest.raises(HealthCheckFailed, match="shop_production_web_green_2 did not become healthy: .*HTTP 500"):
        site.bluegreen(IMAGES["r2"]).deploy()
    assert sorted(site.actions[:4]) == started(GREEN)
    # the undo removes what this deploy started; the balancer is never told about green
    assert sorted(site.actions[4:6]) == [f"remove {n}" for n in GREEN]
    assert not any(a.startswith("route") for a in site.actions)
    assert site.router.state is not None and site.router.state.live is not None
    assert (site.router.state.live.color, site.router.state.preview) == ("blue", None)
    assert site.running() == dict.fromkeys(BLUE, r1)
    history = site.db.releases("shop", "production", limit=5)
    assert [r.status for r in history[:2]] == ["failed", "live"] and history[1].release_id == r1


def test_a_colour_found_failing_its_check_is_left_as_it_was_and_live_stays(site: Site) -> None:
    r1 = release_of(site, IMAGES["r1"])
    site.bluegreen(IMAGES["r2"]).deploy()  # green live, blue on standby
    site.actions.clear()
    # redeploying r1 finds it on blue, idle: the plan checks blue instead of starting it
    site.failing_check.add("blue")
    with pytest.raises(HealthCheckFailed, match="shop_production_web_blue_1 is not healthy"):
        site.bluegreen(IMAGES["r1"]).deploy()
    r2 = release_of(site, IMAGES["r2"])
    # this deploy did not start blue, so it removes nothing: blue stays for a rollback to find
    assert site.actions == []
    assert site.running() == {**dict.fromkeys(GREEN, r2), **dict.fromkeys(BLUE, r1)}
    assert site.db.live_release("shop", "production").release_id == r2
    assert "blue is left as it was (this deploy did not start it): live traffic stays on green" in site.log


def test_rollback_inside_the_window_switches_back_without_starting_anything(site: Site) -> None:
    r1, r2 = release_of(site, IMAGES["r1"]), release_of(site, IMAGES["r2"])
    site.bluegreen(IMAGES["r2"]).deploy()
    site.actions.clear()
    previous = next(r for r in site.db.releases("shop", "production", limit=5) if r.release_id == r1)
    outcome = switch_back(site.deployer, site.deployer.placement(site.engine, "production"), previous, "rollback")
    assert outcome is not None and outcome.release_id == r1
    assert site.actions == [f"route live=blue({r1}, 2) preview=green({r2}, 2)"]  # one reload, no container
    assert site.db.live_release("shop", "production").release_id == r1


def test_a_rollback_whose_colour_does_not_answer_changes_nothing_and_says_why(site: Site) -> None:
    r1 = release_of(site, IMAGES["r1"])
    site.bluegreen(IMAGES["r2"]).deploy()
    site.actions.clear()
    site.failing_check.add("blue")
    previous = next(r for r in site.db.releases("shop", "production", limit=5) if r.release_id == r1)
    with pytest.raises(DeployError, match="cannot roll shop/production back to release .* on blue: "
                                          ".*blue_1 is not healthy.*both colours are as they were"):
        switch_back(site.deployer, site.deployer.placement(site.engine, "production"), previous, "rollback")
    assert site.actions == []  # nothing removed, nothing routed
    assert len(site.running()) == 4


def restart_engine(site: Site) -> None:
    """What an engine restart does to containers whose port the engine picked: new host ports."""
    for container in site.engine.containers.values():
        assert container.bound is not None
        container.bound += 1000


def test_a_deploy_of_the_live_release_repairs_drifted_upstreams(site: Site) -> None:
    r1 = release_of(site, IMAGES["r1"])
    restart_engine(site)
    site.bluegreen(IMAGES["r1"]).deploy()
    assert site.actions == [f"route live=blue({r1}, 2) preview=-"]  # one reload, nothing started
    assert site.router.state is not None and site.router.state.live is not None
    moved = sorted(f"127.0.0.1:{c.bound}"
                   for c in site.engine.containers.values())
    assert list(site.router.state.live.servers) == moved
    assert any(line.startswith("drift repaired: live (blue) pointed at") for line in site.log)


def test_without_drift_a_deploy_of_the_live_release_touches_nothing(site: Site) -> None:
    site.bluegreen(IMAGES["r1"]).deploy()
    assert site.actions == []


def test_a_live_colour_whose_replicas_are_all_down_keeps_its_place(site: Site) -> None:
    """An engine restarting under a deploy: a route taken then must not forget which colour is live."""
    from dockyard.router.switch import Switchboard, board_spec

    r1 = release_of(site, IMAGES["r1"])
    for container in site.engine.containers.values():
        container.status = "exited"
    board = Switchboard(board_spec(site.spec, "production"), site.engine, site.log.append, router=site.router)
    board.route(preview=None)
    assert site.actions == [f"route live=blue({r1}, 0) preview=-"]  # answers 503 meanwhile, still blue
    for container in site.engine.containers.values():
        container.status = "running"
    assert board.reconcile() != []  # back: the drift is repaired onto its replicas
    assert site.actions[-1] == f"route live=blue({r1}, 2) preview=-"

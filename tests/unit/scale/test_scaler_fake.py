"""The scaler on the fake engine and balancer: scale out and in, with and without a balancer in
front, in the exact order of engine actions and reloads (issue 13)."""
from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import DeployError
from dockyard.scale.apply import Scaler
from tests.fakes.deploys import IMAGES, Site


@pytest.fixture
def site(dockyard_env: Path, tmp_path: Path) -> Site:
    site = Site(tmp_path)
    site.deployer.deploy("testing", image=IMAGES["r1"])
    site.deployer.deploy("production", image=IMAGES["r1"])
    site.actions.clear()
    return site


def scaler(site: Site, env: str) -> Scaler:
    return Scaler(site.deployer, site.engine, env, site.log.append)


def names(site: Site) -> list[str]:
    return sorted(c.name for c in site.engine.containers.values() if c.status == "running")


def test_scale_out_starts_the_lowest_free_slots_of_the_live_release(site: Site) -> None:
    said = scaler(site, "testing").scale("web", 4, "cpu above 60%")
    assert said.startswith("started 2 replica(s)") and "(slots [3, 4])" in said
    assert sorted(site.actions) == sorted(["create shop_testing_web_3", "start shop_testing_web_3",
                                           "create shop_testing_web_4", "start shop_testing_web_4"])
    new = next(c for c in site.engine.containers.values() if c.name == "shop_testing_web_3")
    old = next(c for c in site.engine.containers.values() if c.name == "shop_testing_web_1")
    # a replica of the live release exactly: same release, same config hash
    assert new.labels["dockyard.release"] == old.labels["dockyard.release"]
    assert new.labels["dockyard.config-hash"] == old.labels["dockyard.config-hash"]


def test_scale_in_without_a_balancer_stops_the_highest_slots(site: Site) -> None:
    scaler(site, "testing").scale("web", 4, "cpu above 60%")
    site.actions.clear()
    scaler(site, "testing").scale("web", 1, "cpu below 20%")
    assert site.actions == ["stop shop_testing_web_4", "remove shop_testing_web_4", "stop shop_testing_web_3",
                            "remove shop_testing_web_3", "stop shop_testing_web_2", "remove shop_testing_web_2"]
    assert names(site) == ["shop_production_web_blue_1", "shop_production_web_blue_2", "shop_testing_web_1"]


def test_blue_green_scale_out_joins_the_live_upstream_only_once_healthy(site: Site) -> None:
    release = site.db.live_release("shop", "production").release_id
    scaler(site, "production").scale("web", 3, "cpu above 60%")
    assert site.actions == ["create shop_production_web_blue_3", "start shop_production_web_blue_3",
                            f"route live=blue({release}, 3) preview=-"]


def test_blue_green_scale_out_of_an_unhealthy_replica_never_reaches_the_upstream(site: Site) -> None:
    site.unhealthy.add("shop_production_web_blue_3")
    with pytest.raises(DeployError, match="shop_production_web_blue_3 did not become healthy"):
        scaler(site, "production").scale("web", 3, "cpu above 60%")
    assert site.actions == ["create shop_production_web_blue_3", "start shop_production_web_blue_3",
                            "remove shop_production_web_blue_3"]


def test_blue_green_scale_in_takes_replicas_out_of_the_upstream_drains_then_stops(site: Site) -> None:
    release = site.db.live_release("shop", "production").release_id
    scaler(site, "production").scale("web", 1, "cpu below 20%")
    assert site.actions == [f"route live=blue({release}, 1) preview=-", "drained",
                            "stop shop_production_web_blue_2", "remove shop_production_web_blue_2"]


def test_scaling_to_the_current_count_does_nothing(site: Site) -> None:
    assert scaler(site, "testing").scale("web", 2, "steady") == "already 2"
    assert site.actions == []

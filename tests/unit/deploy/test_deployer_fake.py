"""Deployer.deploy on the fake engine, the whole path (config, release id, plan, executor, history):
a rolling release, a deploy that repairs what an interrupted one left, and rollback (issue 13)."""
from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.deploy.promote import rollback
from tests.fakes.deploys import IMAGES, Site


@pytest.fixture
def site(dockyard_env: Path, tmp_path: Path) -> Site:
    """testing runs release r1 on two replicas; the action log starts empty."""
    site = Site(tmp_path)
    site.deployer.deploy("testing", image=IMAGES["r1"])
    site.actions.clear()
    return site


def release_of(site: Site, image: str, env: str = "testing") -> str:
    return site.release(env, image).release_id


def containers(site: Site) -> dict[str, tuple[str, str]]:
    """name -> (status, release) of every container of the app."""
    return {c.name: (c.status, c.labels["dockyard.release"]) for c in site.engine.containers.values()}


def test_a_release_is_rolled_out_one_replica_at_a_time_and_recorded(site: Site) -> None:
    r2 = release_of(site, IMAGES["r2"])
    outcome = site.deployer.deploy("testing", image=IMAGES["r2"])
    assert [a.kind.value for a in outcome.actions] == ["replace", "replace"]
    renames = [a for a in site.actions if a.startswith("rename")]
    assert len(renames) == 2 and site.actions.index(renames[1]) > site.actions.index("start shop_testing_web_1")
    assert containers(site) == {"shop_testing_web_1": ("running", r2), "shop_testing_web_2": ("running", r2)}
    assert site.db.live_release("shop", "testing").release_id == r2


def test_a_deploy_repairs_what_an_interrupted_one_left(site: Site) -> None:
    """Killed after the new replica 1 was created and before it started: the old one (moved aside)
    still serves, the new one holds the replica's name. The next deploy removes the dead one first
    (its name is needed), replaces the old one, and ends with exactly two replicas of r2."""
    r1, r2 = release_of(site, IMAGES["r1"]), release_of(site, IMAGES["r2"])
    old = next(c for c in site.engine.containers.values() if c.name == "shop_testing_web_1")
    old.name = f"shop_testing_web_1-old-{old.id[:8]}"
    site.engine.plant(name="shop_testing_web_1", labels={**old.labels, "dockyard.release": r2,
                                                                      "dockyard.config-hash": "stale"})
    site.actions.clear()

    outcome = site.deployer.deploy("testing", image=IMAGES["r2"])
    assert sorted((a.kind.value, a.reason) for a in outcome.actions if a.replica == 1) == [
        ("remove", "duplicate left by an interrupted deploy"), ("replace", f"new release {r2} (was {r1})")]
    assert site.actions[:2] == ["stop shop_testing_web_1", "remove shop_testing_web_1"]  # the dead one, first
    assert f"rename shop_testing_web_1-old-{old.id[:8]} -> shop_testing_web_1-old-{old.id[:8]}" not in site.actions
    assert containers(site) == {"shop_testing_web_1": ("running", r2), "shop_testing_web_2": ("running", r2)}


def test_rollback_restores_the_previous_release(site: Site) -> None:
    r1 = release_of(site, IMAGES["r1"])
    site.deployer.deploy("testing", image=IMAGES["r2"])
    site.actions.clear()
    outcome = rollback(site.deployer, "testing")
    assert outcome.release_id == r1 and outcome.image == IMAGES["r1"]
    assert containers(site) == {"shop_testing_web_1": ("running", r1), "shop_testing_web_2": ("running", r1)}
    history = site.db.releases("shop", "testing", limit=5)
    assert history[0].release_id == r1 and history[0].status == "live"
    assert history[0].note.startswith(f"rollback to {r1}")


def test_a_blue_green_rollback_inside_the_window_starts_no_container(dockyard_env: Path, tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.deployer.deploy("production", image=IMAGES["r1"])
    site.deployer.deploy("production", image=IMAGES["r2"])
    site.actions.clear()
    r1, r2 = release_of(site, IMAGES["r1"], "production"), release_of(site, IMAGES["r2"], "production")
    outcome = rollback(site.deployer, "production")
    assert outcome.release_id == r1
    assert site.actions == [f"route live=blue({r1}, 2) preview=green({r2}, 2)"]


def test_a_container_started_by_hand_under_a_replica_name_is_named_as_such(site: Site) -> None:
    """Not Dockyard's (no labels): the deploy says so and what to do, and leaves it alone."""
    from dockyard.errors import DeployError

    site.engine.plant(name="shop_testing_web_3", labels={})
    spec = site.spec.model_copy(deep=True)
    spec.services["web"].replicas = 3
    site.deployer.spec = spec
    site.actions.clear()
    with pytest.raises(DeployError, match="shop_testing_web_3: a container Dockyard did not make") as caught:
        site.deployer.deploy("testing", image=IMAGES["r1"])
    assert "docker rename shop_testing_web_3" in (caught.value.hint or "")
    assert "remove shop_testing_web_3" not in site.actions


def test_a_state_database_locked_past_the_wait_is_one_clear_error_and_a_redeploy_records(
        dockyard_env: Path, tmp_path: Path) -> None:
    import sqlite3

    from dockyard.errors import DeployError, StoreUnavailable
    from dockyard.state.db import StateDB

    site = Site(tmp_path)
    site.db = site.deployer.db = StateDB(tmp_path / "state.db", lock_wait=0.2)
    holder = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # a backup, a stuck process
    try:
        with pytest.raises(StoreUnavailable, match=r"state database .*state.db: database is locked"):
            site.db.add_release("shop", "testing", "r", "img", None, 1, "live", "me")
        with pytest.raises(DeployError, match="runs, but could not be recorded") as caught:
            site.deployer.deploy("testing", image=IMAGES["r1"])
        assert "deploy the same again" in (caught.value.hint or "")
    finally:
        holder.rollback()
        holder.close()
    assert site.db.live_release("shop", "testing") is None
    site.actions.clear()
    site.deployer.deploy("testing", image=IMAGES["r1"])  # the same again: nothing changes, now it is recorded
    assert [a for a in site.actions if not a.startswith("network")] == []
    live = site.db.live_release("shop", "testing")
    assert live is not None and live.release_id == release_of(site, IMAGES["r1"])

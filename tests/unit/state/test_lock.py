"""Deploy locks (issue 31): a lock taken by hand refuses every change at once and names its holder;
--wait waits for it; a change that runs is named with its user, what it does and its pid; a holder
that died holds nothing; repairs pass a hand lock."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dockyard.errors import DeployError
from dockyard.state.lock import (
    EnvLocked,
    env_lock,
    hand_lock,
    patience,
    refuse_if_locked_by_hand,
    release_by_hand,
    running_holder,
    take_by_hand,
)
from tests.fakes.deploys import IMAGES, Site


def test_a_lock_taken_by_hand_refuses_a_deploy_at_once_and_nothing_is_applied(dockyard_env: Path,
                                                                               tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    site = Site(tmp_path)
    site.deployer.deploy("testing", image=IMAGES["r1"])
    before, history = dict(site.engine.containers), site.db.releases("shop", "testing", 10)
    site.actions.clear()
    monkeypatch.setenv("DOCKYARD_USER", "alice")
    take_by_hand("shop", "testing", "migrating orders by hand")
    monkeypatch.setenv("DOCKYARD_USER", "bob")
    started = time.monotonic()
    with pytest.raises(EnvLocked) as refused:
        site.deployer.deploy("testing", image=IMAGES["r2"])
    assert time.monotonic() - started < 1.0  # at once, not after the watch's contention wait
    message = str(refused.value)
    assert "shop/testing is locked: held by alice (by hand) since " in message
    assert "'migrating orders by hand'" in message and "dockyard lock release testing" in message
    assert site.actions == [] and dict(site.engine.containers) == before  # nothing touched
    assert site.db.releases("shop", "testing", 10) == history  # nothing recorded
    monkeypatch.setenv("DOCKYARD_USER", "alice")
    # the taker's own deploy too: a lock is a lock
    with pytest.raises(EnvLocked):
        site.deployer.deploy("testing", image=IMAGES["r2"])
    assert release_by_hand("shop", "testing") is not None
    site.deployer.deploy("testing", image=IMAGES["r2"])
    assert site.db.live_release("shop", "testing").image == IMAGES["r2"]


def test_wait_waits_for_the_hand_lock_and_says_for_whom(dockyard_env: Path) -> None:
    take_by_hand("shop", "production", "one minute")
    notes: list[str] = []
    threading.Timer(0.6, lambda: release_by_hand("shop", "production")).start()
    started = time.monotonic()
    with patience(10, note=notes.append), env_lock("shop", "production"):
        waited = time.monotonic() - started
    assert 0.5 <= waited < 5
    assert len(notes) == 1 and notes[0].startswith("waiting for shop/production: held by ")
    # a wait that ends first is refused with the holder, after its time and not before
    take_by_hand("shop", "production", "longer")
    started = time.monotonic()
    with pytest.raises(EnvLocked, match="'longer'"), patience(0.5), env_lock("shop", "production"):
        pass
    assert 0.5 <= time.monotonic() - started < 3


def test_a_running_change_is_named_and_a_hand_lock_is_refused_while_it_runs(dockyard_env: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_USER", "carol")
    with env_lock("shop", "staging", doing="rollback"):
        # from another open file description, as another process sees it
        holder = running_holder("shop", "staging")
        assert holder is not None and (holder.user, holder.doing, holder.pid) == ("carol", "rollback", os.getpid())
        # another thread is another change (inside this one's context, it would go on under its lock)
        with ThreadPoolExecutor(1) as pool, pytest.raises(EnvLocked, match=r"held by carol \(rollback, pid \d+\)"):
            pool.submit(take_by_hand, "shop", "staging", "too late").result()
    assert running_holder("shop", "staging") is None and hand_lock("shop", "staging") is None


def test_a_change_inside_a_change_of_the_same_environment_goes_on_under_its_lock(dockyard_env: Path) -> None:
    with env_lock("shop", "staging", doing="deploy"), env_lock("shop", "staging", doing="rollback"):
        holder = running_holder("shop", "staging")
        assert holder is not None and holder.doing == "deploy"  # the outer one holds it, still
    assert running_holder("shop", "staging") is None
    with ThreadPoolExecutor(1) as pool, env_lock("shop", "staging"):  # not across threads: a thread is another change
        with pytest.raises(EnvLocked):
            pool.submit(lambda: env_lock("shop", "staging").__enter__()).result()


def test_someone_elses_hand_lock_is_released_only_with_force(dockyard_env: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKYARD_USER", "alice")
    take_by_hand("shop", "production", "")
    monkeypatch.setenv("DOCKYARD_USER", "bob")
    with pytest.raises(DeployError, match="not yours"):
        release_by_hand("shop", "production")
    assert hand_lock("shop", "production") is not None
    was = release_by_hand("shop", "production", force=True)
    assert was is not None and was.user == "alice"
    assert hand_lock("shop", "production") is None
    assert release_by_hand("shop", "production") is None  # nothing to release


def test_repairs_pass_a_hand_lock_and_a_scale_is_refused_before_it_writes(dockyard_env: Path) -> None:
    take_by_hand("shop", "production", "maintenance")
    with env_lock("shop", "production", doing="balancer watch", mind_hand_lock=False):
        pass
    with pytest.raises(EnvLocked):
        refuse_if_locked_by_hand("shop", "production")
    with patience(5):
        refuse_if_locked_by_hand("shop", "production")  # it waits in the change itself


def test_a_holder_that_died_holds_nothing(dockyard_env: Path) -> None:
    """The flock is the lease: a deploy killed with SIGKILL lets go the moment it dies."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from dockyard.state.lock import env_lock\n"
        "with env_lock('shop', 'testing'):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n")], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        running = running_holder("shop", "testing")
        assert running is not None and running.pid == holder.pid
        with pytest.raises(EnvLocked, match=rf"pid {holder.pid}"), env_lock("shop", "testing", contended=0.1):
            pass
        holder.kill()
        holder.wait(10)
        with env_lock("shop", "testing", contended=0.1):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)

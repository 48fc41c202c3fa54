"""Every strategy on both targets, on the fake engine (issue 29): the order of a release's actions,
the undo after a failure at every step, a kill at every step followed by the next deploy, and a
release that never answers.

A step is one change the deploy makes: an engine write, a balancer reload, an edge change
(tests/fakes/engine.py counts them in one sequence). For each step k of a release r1 -> r2:
- the k-th change is refused: the deploy fails with a DockyardError, and what serves is one whole
  release (r1, or r2 when the failure came after the switch), with nothing half-made left over, and
  the history says which; the same deploy again then lands r2;
- the process dies at the k-th change: nothing after it runs, not even an undo; the next deploy
  of r2 (a new process) repairs what was left and lands r2 whole.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from dockyard.errors import DockyardError, RetireFailed
from tests.fakes.deploys import IMAGES, Site
from tests.fakes.deploys import SPEC as BASE_SPEC
from tests.fakes.engine import Killed

# the fakes' app, with a worker (no port) beside its web service and an environment of each strategy
SPEC = BASE_SPEC.replace("environments:\n", """\
  worker:
    command: [sh, -c, "while true; do sleep 1; done"]
environments:
  staging: {strategy: recreate}
""", 1)
ENVS = {"rolling": "testing", "recreate": "staging", "blue-green": "production"}
CASES = [(strategy, target) for strategy in ENVS for target in ("containers", "swarm")]
WANTED = {"web": 2, "worker": 1}  # replicas that serve a release


def site_with_r1(home: Path, target: str, env: str) -> Site:
    site = Site(home, SPEC, swarm=target == "swarm")
    site.deployer.deploy(env, image=IMAGES["r1"])
    site.actions.clear()
    return site


def release_id(site: Site, env: str, image: str) -> str:
    return site.release(env, image).release_id


def serving(site: Site, env: str) -> tuple[str, Counter[str]]:
    """The one release that serves `env`, and how many replicas of each service run it. Fails when
    two releases serve, or anything is left half-made (a replica moved aside, one not running). A
    blue-green standby colour may stay beside the live one: the previous release, whole."""
    rows = site.engine.observe("shop", env)
    assert [r.name for r in rows if "-old-" in r.name] == [], "a replica left moved aside"
    live = site.router.state.live if site.router.state else None
    serving = [r for r in rows if live is None or r.color == live.color]
    standby = [r for r in rows if r not in serving]
    assert [r.name for r in serving if not r.running] == [], "a replica left stopped"
    assert len({r.release for r in standby}) <= 1, f"standby: {standby}"
    releases = {r.release for r in serving}
    assert len(releases) == 1, f"releases serving at once: {sorted(releases)}"
    return releases.pop(), Counter(r.service for r in serving)


def switches(actions: list[str], release: str) -> tuple[int, int]:
    """Where the balancer first previewed `release`, and where it made it live."""
    sides = [re.fullmatch(r"route live=(.*) preview=(.*)", a) for a in actions]
    preview = next(i for i, side in enumerate(sides) if side and f"({release}," in side[2])
    live = next(i for i, side in enumerate(sides) if side and f"({release}," in side[1])
    return preview, live


def clean_release(home: Path, target: str, env: str) -> tuple[Site, int]:
    """A site where a clean r1 -> r2 deploy ran: its actions are those of r2; and how many changes
    that deploy made."""
    site = site_with_r1(home, target, env)
    before = site.engine.steps
    site.deployer.deploy(env, image=IMAGES["r2"])
    return site, site.engine.steps - before


@pytest.mark.parametrize(("strategy", "target"), CASES)
def test_the_order_of_a_release(dockyard_env: Path, tmp_path: Path, strategy: str, target: str) -> None:
    env = ENVS[strategy]
    site, _ = clean_release(tmp_path, target, env)
    actions, r2 = site.actions, release_id(site, env, IMAGES["r2"])
    created = [a for a in actions if a.startswith(("create ", "service create", "service update"))]
    retired = [a for a in actions if a.startswith(("stop ", "service remove")) or
               (a.startswith("service scale") and a.endswith(" 0"))]  # a standby colour's workers park
    assert created, actions
    if target == "containers" and strategy != "blue-green":  # a new web replica answers before an old one stops
        assert actions.index(f"start shop_{env}_web_1") < min(i for i, a in enumerate(actions) if a.startswith("stop "))
    if strategy == "blue-green":
        preview, switch = switches(actions, r2)
        # the new colour is made, then previewed, then live; the old one goes only after the switch
        assert max(actions.index(a) for a in created) < preview < switch
        assert retired and min(actions.index(a) for a in retired) > switch
    else:
        assert not any(a.startswith("route") for a in actions)
    assert serving(site, env) == (r2, Counter(WANTED))


@pytest.mark.parametrize(("strategy", "target"), CASES)
def test_a_change_refused_at_any_step_leaves_one_whole_release(dockyard_env: Path, tmp_path: Path, strategy: str,
                                                               target: str) -> None:
    env = ENVS[strategy]
    _, steps = clean_release(tmp_path / "clean", target, env)
    assert steps >= 2
    for k in range(1, steps + 1):
        site = site_with_r1(tmp_path / f"fail{k}", target, env)
        r1, r2 = release_id(site, env, IMAGES["r1"]), release_id(site, env, IMAGES["r2"])
        site.engine.fail_at = site.engine.steps + k
        try:
            site.deployer.deploy(env, image=IMAGES["r2"])
        except RetireFailed as exc:  # r2 serves; what could not be removed is named, and the history says r2
            left = [r.name for r in site.engine.observe("shop", env) if "-old-" in r.name or not r.running]
            assert left and all(name in exc.message for name in left), f"step {k}: {left}: {exc.message}"
            live = site.db.live_release("shop", env)
            assert live is not None and live.release_id == r2
        except DockyardError:
            release, counts = serving(site, env)
            assert release in (r1, r2), f"step {k} ({site.actions[-3:]})"
            assert counts == Counter(WANTED), f"step {k}: {counts} of {release} ({site.actions})"
            live = site.db.live_release("shop", env)
            assert live is not None and live.release_id == release, f"step {k}: history says {live}, {release} runs"
        else:  # a refused change the deploy can do without (a drain wait, say) must not hide a fault
            assert serving(site, env) == (r2, Counter(WANTED)), f"step {k}"
            continue
        site.engine.fail_at = None
        site.deployer.deploy(env, image=IMAGES["r2"])
        assert serving(site, env) == (r2, Counter(WANTED)), f"step {k}, then again"


@pytest.mark.parametrize(("strategy", "target"), CASES)
def test_a_kill_at_any_step_is_repaired_by_the_next_deploy(dockyard_env: Path, tmp_path: Path, strategy: str,
                                                           target: str) -> None:
    env = ENVS[strategy]
    _, steps = clean_release(tmp_path / "clean", target, env)
    for k in range(1, steps + 1):
        site = site_with_r1(tmp_path / f"kill{k}", target, env)
        r2 = release_id(site, env, IMAGES["r2"])
        site.engine.kill_at = site.engine.steps + k
        with pytest.raises(Killed):
            site.deployer.deploy(env, image=IMAGES["r2"])
        site.engine.revive()
        site.deployer.deploy(env, image=IMAGES["r2"])
        assert serving(site, env) == (r2, Counter(WANTED)), f"killed at step {k}: {site.actions}"
        live = site.db.live_release("shop", env)
        assert live is not None and live.release_id == r2


@pytest.mark.parametrize(("strategy", "target"), CASES)
def test_a_release_that_never_answers_leaves_the_one_before_serving(dockyard_env: Path, tmp_path: Path,
                                                                    strategy: str, target: str) -> None:
    """Its replicas fail their health check (containers) or its tasks fail to start (Swarm): the
    deploy undoes what it made, and r1 serves as before."""
    env = ENVS[strategy]
    site = site_with_r1(tmp_path, target, env)
    r1, r2 = release_id(site, env, IMAGES["r1"]), release_id(site, env, IMAGES["r2"])
    site.engine.fail_releases.add(r2)  # its containers never answer, its Swarm tasks fail
    with pytest.raises(DockyardError):
        site.deployer.deploy(env, image=IMAGES["r2"])
    assert serving(site, env) == (r1, Counter(WANTED))
    live = site.db.live_release("shop", env)
    assert live is not None and live.release_id == r1
    undone = [a for a in site.actions if a.startswith(("remove ", "service remove", "service rollback", "rename"))]
    assert undone, site.actions


def test_a_release_whose_old_replicas_could_not_all_be_retired_is_still_tested(dockyard_env: Path,
                                                                                tmp_path: Path) -> None:
    """In place, a stop refused after the new replicas answer: the release serves, so its endpoint
    tests run and it is recorded live; the error names what is left for the next deploy."""
    spec = SPEC.replace("environments:", "tests:\n  smoke: {run: [sh, -c, \"wget -qO- $TARGET_URL/health\"], "
                        "kind: endpoint}\nenvironments:", 1).replace("testing: {strategy: rolling}",
                                                                     "testing: {strategy: rolling, tests: [smoke]}")
    site = Site(tmp_path, spec)
    site.deployer.deploy("testing", image=IMAGES["r1"])
    r2 = release_id(site, "testing", IMAGES["r2"])
    retire = next(k for k, a in enumerate(clean_release(tmp_path / "clean", "containers", "testing")[0].actions, 1)
                  if a.startswith("stop "))
    site.actions.clear()
    site.engine.fail_at = site.engine.steps + retire
    with pytest.raises(RetireFailed, match="shop_testing_web_1-old-"):
        site.deployer.deploy("testing", image=IMAGES["r2"])
    assert any(a.startswith("test smoke -> http://127.0.0.1:") for a in site.actions), site.actions
    live = site.db.live_release("shop", "testing")
    assert live is not None and live.release_id == r2

"""The hooks around a deploy on the fake engine (issue 31): where each runs in the sequence of engine
actions, what a failure of each does for an in-place and a blue-green environment, and that every
run is kept, audited and announced; a rollback runs none; a Swarm placement refuses them first."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.deploy.hooks import HookFailed
from dockyard.deploy.promote import rollback
from dockyard.errors import DeployError
from dockyard.notify.store import Events
from dockyard.state.audit import AuditLog
from tests.fakes.deploys import IMAGES, SPEC, Site

HOOKED = SPEC.replace("environments:\n", """\
release: {command: [./manage.py, migrate]}
hooks:
  pre_deploy: {command: [./check.sh]}
  post_deploy: {command: "./warm.sh", timeout: 1m}
  post_switch: {command: [./purge-cache.sh]}
environments:
""")


def hook_name(site: Site, env: str, hook: str, release: str) -> str:
    return f"shop_{env}_hook-{hook.replace('_', '-')}_{release}"


def make(tmp_path: Path, on_failure: str = "keep") -> Site:
    text = HOOKED.replace("{strategy: rolling}", f"{{strategy: rolling, on_failure: {on_failure}}}")
    text = text.replace("router: {live: 18000, preview: 18001}}", f"router: {{live: 18000, preview: 18001}}, "
                                                                   f"on_failure: {on_failure}}}")
    return Site(tmp_path, text)


def first(actions: list[str], prefix: str) -> int:
    return next(i for i, a in enumerate(actions) if a.startswith(prefix))


def test_in_place_the_hooks_run_around_the_release_in_their_order(dockyard_env: Path, tmp_path: Path) -> None:
    site = make(tmp_path)
    r1 = site.deployer.deploy("testing", image=IMAGES["r1"]).release_id
    acts = site.actions
    pre = first(acts, f"await {hook_name(site, 'testing', 'pre_deploy', r1)}")
    task, replica = first(acts, "await shop_testing_release_"), first(acts, "create shop_testing_web")
    post = first(acts, f"await {hook_name(site, 'testing', 'post_deploy', r1)}")
    switch = first(acts, f"await {hook_name(site, 'testing', 'post_switch', r1)}")
    assert pre < task < replica < post < switch  # pre before anything of it; post_* once it serves
    assert not any(a.startswith("create shop_testing_hook") for a in acts[switch:])
    runs = site.db.task_runs("shop", "testing", "hook.")
    assert [(r.kind, r.status, r.release_id) for r in runs] == [
        (f"hook.{h}", "succeeded", r1) for h in ("post_switch", "post_deploy", "pre_deploy")]
    assert [t.status for t in site.db.release_tasks("shop", "testing")] == ["succeeded"]  # its own history
    audited = [(r.action, r.target, r.outcome) for r in AuditLog(site.db).rows() if r.action.startswith("hook")]
    hooks = ("post_deploy", "post_switch", "pre_deploy")
    assert sorted(audited) == [(f"hook {h}", "shop/testing", "ok") for h in hooks]
    events = Events(site.db).recent(("hook.succeeded", "hook.failed"), app="shop")
    assert sorted(e.event.data["hook"] for e in events) == ["post_deploy", "post_switch", "pre_deploy"]
    assert site.engine.task_containers("shop", "testing") == []  # every one-off removed


def test_a_failed_pre_deploy_hook_starts_nothing(dockyard_env: Path, tmp_path: Path) -> None:
    site = make(tmp_path)
    r1 = site.deployer.deploy("testing", image=IMAGES["r1"]).release_id
    r2 = site.release("testing", IMAGES["r2"]).release_id
    site.engine.task_exits[hook_name(site, "testing", "pre_deploy", r2)] = 3
    site.actions.clear()
    with pytest.raises(HookFailed, match="pre_deploy hook of release .* failed \\(exit 3\\)"):
        site.deployer.deploy("testing", image=IMAGES["r2"])
    assert not any(a.startswith("create shop_testing_web") or "_release_" in a for a in site.actions)
    assert site.db.live_release("shop", "testing").release_id == r1
    [failed] = Events(site.db).recent(("hook.failed",), app="shop")
    assert failed.event.data["exit_code"] == 3
    assert any(r.outcome.startswith("failed: failed (exit 3)") for r in AuditLog(site.db).rows())


def test_in_place_a_failed_post_deploy_hook_puts_the_release_before_back(dockyard_env: Path, tmp_path: Path) -> None:
    site = make(tmp_path)
    r1 = site.deployer.deploy("testing", image=IMAGES["r1"]).release_id
    r2 = site.release("testing", IMAGES["r2"]).release_id
    site.engine.task_exits[hook_name(site, "testing", "post_deploy", r2)] = 1
    with pytest.raises(DeployError, match=f"back on release {r1}"):
        site.deployer.deploy("testing", image=IMAGES["r2"])
    live = site.db.live_release("shop", "testing")
    assert live.release_id == r1 and live.note == f"restored: release {r1} after a failed post_deploy hook"
    assert {r.release for r in site.engine.observe("shop", "testing")} == {r1}
    # the restore runs no hook of its own
    assert [r.release_id for r in site.db.task_runs("shop", "testing", "hook.pre_deploy")] == [r2, r1]


@pytest.mark.parametrize("on_failure", ["keep", "rollback"])
def test_in_place_a_failed_post_switch_hook_keeps_or_rolls_back(dockyard_env: Path, tmp_path: Path,
                                                                 on_failure: str) -> None:
    site = make(tmp_path, on_failure)
    r1 = site.deployer.deploy("testing", image=IMAGES["r1"]).release_id
    r2 = site.release("testing", IMAGES["r2"]).release_id
    site.engine.task_exits[hook_name(site, "testing", "post_switch", r2)] = 1
    said = "stays on release" if on_failure == "keep" else f"back on release {r1}"
    with pytest.raises(DeployError, match=said):
        site.deployer.deploy("testing", image=IMAGES["r2"])
    expected = r2 if on_failure == "keep" else r1
    assert site.db.live_release("shop", "testing").release_id == expected
    assert {r.release for r in site.engine.observe("shop", "testing")} == {expected}


def test_blue_green_a_failed_post_deploy_hook_never_switches(dockyard_env: Path, tmp_path: Path) -> None:
    site = make(tmp_path)
    r1 = site.deployer.deploy("production", image=IMAGES["r1"]).release_id
    r2 = site.release("production", IMAGES["r2"]).release_id
    site.engine.task_exits[hook_name(site, "production", "post_deploy", r2)] = 1
    site.actions.clear()
    with pytest.raises(HookFailed):
        site.deployer.deploy("production", image=IMAGES["r2"])
    assert site.db.live_release("shop", "production").release_id == r1
    assert not any(a.startswith("route live=green") for a in site.actions)
    assert {r.release for r in site.engine.observe("shop", "production")} == {r1}  # its colour was retired


def test_blue_green_a_failed_post_switch_hook_switches_back_when_told(dockyard_env: Path, tmp_path: Path) -> None:
    site = make(tmp_path, "rollback")
    r1 = site.deployer.deploy("production", image=IMAGES["r1"]).release_id
    r2 = site.release("production", IMAGES["r2"]).release_id
    site.engine.task_exits[hook_name(site, "production", "post_switch", r2)] = 1
    with pytest.raises(DeployError, match=f"back on release {r1} \\(on_failure: rollback\\)"):
        site.deployer.deploy("production", image=IMAGES["r2"])
    live = site.db.live_release("shop", "production")
    assert live.release_id == r1 and "after a failed post_switch hook" in live.note
    routes = [a for a in site.actions if a.startswith("route ")]
    assert routes[-1] == f"route live=blue({r1}, 2) preview=green({r2}, 2)"  # a switch back
    assert not any(a.startswith("create shop_production_web") for a in site.actions[site.actions.index(routes[-1]):])


def test_a_rollback_runs_no_hooks(dockyard_env: Path, tmp_path: Path) -> None:
    site = make(tmp_path)
    site.deployer.deploy("testing", image=IMAGES["r1"])
    site.deployer.deploy("testing", image=IMAGES["r2"])
    before = len(site.db.task_runs("shop", "testing", "hook."))
    rollback(site.deployer, "testing")
    assert len(site.db.task_runs("shop", "testing", "hook.")) == before


def test_on_a_swarm_the_hooks_are_services_of_one_task(dockyard_env: Path, tmp_path: Path) -> None:
    site = Site(tmp_path, SPEC.replace("environments:\n", "hooks: {pre_deploy: {command: [true]}, "
                                                         "post_switch: {command: [true]}}\nenvironments:\n"),
                swarm=True)
    release = site.deployer.deploy("testing", image=IMAGES["r1"]).release_id
    acts = site.actions
    pre, post = (acts.index(f"await {hook_name(site, 'testing', h, release)}") for h in ("pre_deploy", "post_switch"))
    assert pre < acts.index("service create shop_testing_web") < post
    runs = site.db.task_runs("shop", "testing", "hook.")
    assert [(r.kind, r.status) for r in runs] == [("hook.post_switch", "succeeded"), ("hook.pre_deploy", "succeeded")]

from __future__ import annotations

from dockyard.plan.deploy import Desired, Kind, Observed, is_noop, plan_deploy


def obs(service: str, replica: int, config_hash: str = "h1", running: bool = True, cid: str | None = None,
        release: str = "r1") -> Observed:
    cid = cid or f"{service}{replica}{config_hash}"
    return Observed(id=cid, name=f"app-env-{service}-{replica}", service=service, replica=replica,
                    config_hash=config_hash, release=release, running=running)


def kinds(actions):
    return [(a.kind, a.service, a.replica) for a in actions]


def test_first_deploy_creates_every_replica():
    actions = plan_deploy([Desired("web", 3, "h1", "r1")], [])
    assert kinds(actions) == [(Kind.CREATE, "web", 1), (Kind.CREATE, "web", 2), (Kind.CREATE, "web", 3)]
    assert all("missing replica (r1)" == a.reason for a in actions)


def test_same_release_is_a_noop():
    actions = plan_deploy([Desired("web", 2, "h1", "r1")], [obs("web", 1), obs("web", 2)])
    assert kinds(actions) == [(Kind.KEEP, "web", 1), (Kind.KEEP, "web", 2)]
    assert is_noop(actions)


def test_new_release_replaces_each_replica_with_reason():
    actions = plan_deploy([Desired("web", 2, "h2", "r2")], [obs("web", 1), obs("web", 2)])
    assert kinds(actions) == [(Kind.REPLACE, "web", 1), (Kind.REPLACE, "web", 2)]
    assert actions[0].reason == "new release r2 (was r1)"
    assert actions[0].container is not None and actions[0].container.replica == 1


def test_drift_with_same_release_is_reported_as_drift():
    actions = plan_deploy([Desired("web", 1, "h2", "r1")], [obs("web", 1, "h1", release="r1")])
    assert actions[0].kind is Kind.REPLACE
    assert actions[0].reason == "configuration drift (config-hash differs)"


def test_scale_down_removes_highest_replicas_last():
    actions = plan_deploy([Desired("web", 1, "h1", "r1")], [obs("web", 1), obs("web", 2), obs("web", 3)])
    assert kinds(actions) == [(Kind.REMOVE, "web", 2), (Kind.REMOVE, "web", 3), (Kind.KEEP, "web", 1)]
    assert actions[0].reason == "scale down to 1"


def test_removed_service_and_stopped_container():
    actions = plan_deploy([Desired("web", 1, "h1", "r1")], [obs("web", 1, running=False), obs("old", 1)])
    assert kinds(actions) == [(Kind.REPLACE, "web", 1), (Kind.REMOVE, "old", 1)]
    assert actions[0].reason == "not running"
    assert actions[1].reason == "service no longer in dockyard.yml"


def test_duplicate_left_by_interrupted_deploy_keeps_the_current_running_one():
    current = obs("web", 1, "h2", cid="new")
    stale = obs("web", 1, "h1", cid="old")
    actions = plan_deploy([Desired("web", 1, "h2", "r2")], [stale, current])
    assert [(a.kind, a.container.id if a.container else None) for a in actions] == [
        (Kind.REMOVE, "old"), (Kind.KEEP, "new")]
    assert actions[0].reason == "duplicate left by an interrupted deploy"


def test_zero_replicas_removes_all():
    actions = plan_deploy([Desired("web", 0, "h1", "r1")], [obs("web", 1)])
    assert kinds(actions) == [(Kind.REMOVE, "web", 1)]

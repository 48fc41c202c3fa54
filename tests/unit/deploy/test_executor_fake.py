"""The rolling and recreate executor on a fake engine: the exact sequence of engine actions for a
replacement, a failed health check with its undo, and a start that fails (issue 13)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from dockyard.deploy.executor import Executor, Workload
from dockyard.deploy.health import HealthCheck, HealthResult
from dockyard.engine.containers import ReplicaSpec
from dockyard.errors import DeployError, DockyardError, HealthCheckFailed
from dockyard.plan.deploy import Action, Kind, Observed
from tests.fakes.engine import FakeEngine


def workload(replicas: int = 2, release: str = "r2") -> Workload:
    specs = {("web", n): ReplicaSpec(app="shop", env="testing", service="web", replica=n, image="img",
                                     release_id=release, config_hash=f"h-{release}", config_revision=1, commit=None,
                                     command=None, port=8080, cpus=None, memory=None, user="65534:65534")
             for n in range(1, replicas + 1)}
    return Workload(replicas=specs, health={"web": HealthCheck(path="/health")})


def running(engine: FakeEngine, n: int, release: str = "r1") -> Observed:
    container = engine.plant(f"shop_testing_web_{n}", {}, status="running")
    return Observed(container.id, container.name, "web", n, f"h-{release}", release, True)


def healthy(*unhealthy: str):
    def probe(engine, container, port, check) -> HealthResult:
        ok = container.name not in unhealthy
        return HealthResult(ok, "GET /health: HTTP 200" if ok else "GET /health: HTTP 500", 0.01)
    return probe


def test_a_rolling_replacement_moves_each_old_aside_starts_the_new_then_retires_the_old() -> None:
    engine = FakeEngine()
    old = [running(engine, 1), running(engine, 2)]
    engine.actions.clear()
    log: list[str] = []
    actions = [Action(Kind.REPLACE, "web", n, "new release", old[n - 1]) for n in (1, 2)]
    Executor(engine, workload(), 1, log.append, probe=healthy()).apply(actions)
    id1, id2 = old[0].id[:8], old[1].id[:8]
    # one replica at a time: the old one moves aside, the new one starts (and is probed healthy)
    assert engine.actions[:7] == [
        f"rename shop_testing_web_1 -> shop_testing_web_1-old-{id1}", "network create dockyard_shop_testing",
        "create shop_testing_web_1", "start shop_testing_web_1",
        f"rename shop_testing_web_2 -> shop_testing_web_2-old-{id2}",
        "create shop_testing_web_2", "start shop_testing_web_2"]
    # then the old ones retire together (in parallel threads, so in either order)
    assert sorted(engine.actions[7:]) == sorted([
        f"stop shop_testing_web_1-old-{id1}", f"remove shop_testing_web_1-old-{id1}",
        f"stop shop_testing_web_2-old-{id2}", f"remove shop_testing_web_2-old-{id2}"])
    assert sorted(c.name for c in engine.containers.values()) == ["shop_testing_web_1", "shop_testing_web_2"]
    assert "shop_testing_web_1 healthy in 0.0s (new release)" in log


def test_a_failed_health_check_removes_the_new_and_gives_the_old_its_name_back() -> None:
    engine = FakeEngine()
    old = [running(engine, 1), running(engine, 2)]
    engine.actions.clear()
    actions = [Action(Kind.REPLACE, "web", n, "new release", old[n - 1]) for n in (1, 2)]
    with pytest.raises(HealthCheckFailed, match="shop_testing_web_1 did not become healthy: GET /health: HTTP 500"):
        Executor(engine, workload(), 1, lambda _: None, probe=healthy("shop_testing_web_1")).apply(actions)
    id1 = old[0].id[:8]
    assert engine.actions == [
        f"rename shop_testing_web_1 -> shop_testing_web_1-old-{id1}", "network create dockyard_shop_testing",
        "create shop_testing_web_1", "start shop_testing_web_1",
        "remove shop_testing_web_1",  # the undo: what this deploy started goes ...
        f"rename shop_testing_web_1-old-{id1} -> shop_testing_web_1",  # ... and the old one is itself again
    ]
    assert {c.name: c.status for c in engine.containers.values()} == {
        "shop_testing_web_1": "running", "shop_testing_web_2": "running"}  # replica 2 was never touched


def test_an_engine_gone_in_the_middle_says_what_failed_and_what_could_not_be_undone() -> None:
    engine = FakeEngine()
    old = [running(engine, 1), running(engine, 2)]
    engine.actions.clear()

    def engine_dies(engine, container, port, check) -> HealthResult:
        engine.down = True  # dockerd stops while the new replica is being probed
        return HealthResult(False, "GET /health: connection refused", 0.01)

    actions = [Action(Kind.REPLACE, "web", n, "new release", old[n - 1]) for n in (1, 2)]
    with pytest.raises(DeployError) as raised:
        Executor(engine, workload(), 1, lambda _: None, probe=engine_dies).apply(actions)
    assert raised.value.message.splitlines()[0] == (
        "shop_testing_web_1 did not become healthy: GET /health: connection refused; then giving "
        "shop_testing_web_1 its name back: the engine stopped answering: connection refused")
    assert "deploy again" in str(raised.value.hint)
    assert isinstance(raised.value.__cause__, HealthCheckFailed)


def test_recreate_starts_a_whole_batch_and_an_engine_error_is_undone_and_explained() -> None:
    engine = FakeEngine()
    engine.fail_start.add("shop_testing_web_2")
    actions = [Action(Kind.CREATE, "web", n, "missing replica") for n in (1, 2)]
    with pytest.raises(DockyardError, match="starting shop_testing_web_2"):
        Executor(engine, workload(), None, lambda _: None, probe=healthy()).apply(actions)
    assert sorted(engine.actions) == sorted(["network create dockyard_shop_testing", "create shop_testing_web_1",
                                             "create shop_testing_web_2", "start shop_testing_web_1",
                                             "remove shop_testing_web_1", "remove shop_testing_web_2"])
    assert engine.containers == {}


def published(engine: FakeEngine, name: str) -> int:
    bound = engine.container(name).bound
    assert bound is not None
    return bound


def test_a_replica_publishes_on_a_port_of_its_own_that_its_container_keeps() -> None:
    engine = FakeEngine()
    actions = [Action(Kind.CREATE, "web", n, "missing replica") for n in (1, 2)]
    Executor(engine, workload(), None, lambda _: None, probe=healthy()).apply(actions)
    for name in ("shop_testing_web_1", "shop_testing_web_2"):
        container = next(c for c in engine.containers.values() if c.name == name)
        # asked for at create (so an engine restart brings it back on it), not left to the engine
        assert container.wanted_port == published(engine, name)


def test_a_port_taken_between_the_choice_and_the_start_is_chosen_again(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = FakeEngine()
    choices = iter([40001, 40002])
    reserved: list[frozenset[int]] = []
    monkeypatch.setattr("dockyard.deploy.executor.free_port", lambda taken: reserved.append(taken) or next(choices))
    engine.taken_ports.add(40001)  # another program binds it first
    load = replace(workload(replicas=1), reserved_ports=frozenset({18000, 18001}))  # the app's balancer ports
    Executor(engine, load, 1, lambda _: None, probe=healthy()).apply(
        [Action(Kind.CREATE, "web", 1, "missing replica")])
    assert len(reserved) == 2 and all({18000, 18001} <= taken for taken in reserved)
    assert engine.actions == ["network create dockyard_shop_testing", "create shop_testing_web_1",
                              "remove shop_testing_web_1", "create shop_testing_web_1", "start shop_testing_web_1"]
    assert published(engine, "shop_testing_web_1") == 40002


def test_a_remote_engine_picks_the_port_itself() -> None:
    engine = FakeEngine()
    engine.config = replace(engine.config, host="tcp://10.0.0.9:2376")
    Executor(engine, workload(replicas=1), 1, lambda _: None, probe=healthy()).apply(
        [Action(Kind.CREATE, "web", 1, "missing replica")])
    container = next(iter(engine.containers.values()))
    assert container.wanted_port is None
    assert published(engine, "shop_testing_web_1") == 32768


def test_a_deploy_waits_out_a_watch_round_but_not_a_deploy(dockyard_env) -> None:  # type: ignore[no-untyped-def]
    import threading
    import time

    from dockyard.errors import DeployError
    from dockyard.state.lock import env_lock

    held = threading.Event()

    def hold(seconds: float) -> None:
        with env_lock("shop", "testing"):
            held.set()
            time.sleep(seconds)

    brief = threading.Thread(target=hold, args=(0.3,))  # a balancer watch round
    brief.start()
    held.wait()
    with env_lock("shop", "testing"):  # waits for it, then goes on
        pass
    brief.join()
    held.clear()
    long = threading.Thread(target=hold, args=(3.0,))  # a deploy
    long.start()
    held.wait()
    with pytest.raises(DeployError, match=r"is locked: held by \S+ \(deploy, pid \d+\)"):
        with env_lock("shop", "testing", contended=0.2):
            pass
    long.join()

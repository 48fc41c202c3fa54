"""Which Swarm tasks the edge sends requests to during a rollout (issue 15): pure."""

from __future__ import annotations

from dockyard.deploy.swarm import judge_seconds, monitor_seconds
from dockyard.deploy.swarm_edge import edge_servers
from dockyard.engine.swarm_facts import NodeFact, TaskFact
from dockyard.spec.model import HealthSpec

NODES = {n: NodeFact(n, n, "worker", "active", "ready", addr, addr, 1, 1, False, {})
         for n, addr in (("n1", "127.0.0.1"), ("n2", "10.219.0.2"))}


def task(tid: str, config_hash: str, port: int, node: str = "n1", state: str = "running",
         desired: str = "running") -> TaskFact:
    return TaskFact(tid, "svc", 1, node, state, desired, config_hash, "r", "", "c", {8080: port}, "")


def test_a_rollout_in_the_middle() -> None:
    tasks = [task("old1", "h-old", 31001), task("old2", "h-old", 31002, node="n2"),
             task("old3", "h-old", 31003, desired="shutdown"),  # Swarm is stopping it: out at once
             task("new1", "h-new", 32001),  # answered the probe
             task("new2", "h-new", 32002),  # running, not answering yet
             task("new3", "h-new", 32003, state="starting"),
             task("gone", "h-old", 31004, state="shutdown", desired="shutdown")]
    assert edge_servers(tasks, NODES, 8080, "h-new", frozenset({"new1"})) == (
        "10.219.0.2:31002", "127.0.0.1:31001", "127.0.0.1:32001")


def test_after_the_rollout_every_running_task() -> None:
    tasks = [task("new1", "h-new", 32001), task("new2", "h-new", 32002, node="n2"),
             task("new3", "h-new", 32003, state="starting")]
    assert edge_servers(tasks, NODES, 8080, None, frozenset()) == ("10.219.0.2:32002", "127.0.0.1:32001")


def test_a_failing_release_never_gets_a_request() -> None:
    tasks = [task("old1", "h-old", 31001), task("bad1", "h-bad", 33001)]
    assert edge_servers(tasks, NODES, 8080, "h-bad", frozenset()) == ("127.0.0.1:31001",)


def test_no_port_or_an_unknown_node_gives_no_server() -> None:
    assert edge_servers([task("a", "h", 31001)], NODES, None, None, frozenset()) == ()
    assert edge_servers([task("a", "h", 31001, node="n9")], NODES, 8080, None, frozenset()) == ()


def test_behind_the_edge_swarm_waits_for_dockyards_verdict_on_each_task() -> None:
    health = HealthSpec(path="/health", interval=0.2, timeout=1.0, retries=3, start_period=8.0)
    assert judge_seconds(health) == 11.0  # start period + probe + margin: the delay between two tasks
    assert judge_seconds(None) == 0.0  # no probe: nothing to wait for
    assert monitor_seconds(health) == 2.0  # a crash still shows within a health cycle

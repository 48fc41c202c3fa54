from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from dockyard.engine.facts import ContainerEvent, ReplicaFacts, container_event, replica_facts
from dockyard.monitor.inventory import Inventory, matches, start_point, tracked


def inspect_body(cid: str = "abc", running: bool = True, restarts: int = 0, name: str = "/shop-t-web-1") -> dict:
    return {
        "Id": cid, "Name": name, "RestartCount": restarts,
        "State": {"Running": running, "Pid": 4242 if running else 0, "ExitCode": 0 if running else 137,
                  "StartedAt": "2026-11-25T18:00:00Z"},
        "Config": {"Labels": {"dockyard.app": "shop", "dockyard.env": "t", "dockyard.service": "web"}},
        "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32001"}],
                                      "9999/udp": None, "53/udp": [{"HostIp": "0.0.0.0", "HostPort": "5353"}]}},
        "GraphDriver": {"Data": {"UpperDir": "/var/lib/docker/overlay2/x/diff"}},
        "LogPath": "/var/lib/docker/containers/abc/abc-json.log",
        "HostConfig": {"CgroupParent": ""},
    }


def test_tracked_from_inspect() -> None:
    t = tracked(replica_facts(inspect_body()))
    assert (t.name, t.pid, t.running, t.app, t.env, t.service) == ("shop-t-web-1", 4242, True, "shop", "t", "web")
    assert t.ports == {(8080, "tcp"): 32001, (53, "udp"): 5353}
    assert t.upper_dir.endswith("/diff") and t.log_path.endswith("-json.log")


def test_published_ports_ignores_other_host_addresses() -> None:
    attrs = {"NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "10.1.2.3", "HostPort": "80"}]}}}
    assert tracked(replica_facts(attrs)).ports == {}


def test_matches() -> None:
    assert matches({"a": "1", "b": "2"}, {"a": "1", "b": ""})
    assert not matches({"a": "1"}, {"a": "2"})


class Events:
    """An event stream that ends when it has no more."""

    def __init__(self, events: Iterator[dict[str, Any]]) -> None:
        self.events = events

    def __iter__(self) -> Iterator[ContainerEvent]:
        return (container_event(raw) for raw in self.events)  # as the engine streams them, parsed by engine/

    def close(self) -> None:
        pass


class FakeEngine:
    """The inventory's ReplicaReader: inspect bodies by id, and the events a test gives."""

    def __init__(self) -> None:
        self.bodies: dict[str, dict] = {}
        self.events: Any = lambda since: iter(())

    def running_replicas(self, selector: Mapping[str, str]) -> list[ReplicaFacts]:
        return [replica_facts(b) for b in self.bodies.values() if b["State"]["Running"]]

    def inspect_replica(self, container_id: str) -> ReplicaFacts | None:
        body = self.bodies.get(container_id)
        return replica_facts(body) if body else None

    def container_events(self, since: int) -> Events:
        return Events(self.events(since))


def test_events_keep_the_map_current() -> None:
    engine = FakeEngine()
    engine.bodies["abc"] = inspect_body()
    inv = Inventory(engine)
    inv.refresh()
    assert [t.name for t in inv.snapshot()] == ["shop-t-web-1"]
    inv.on_event(container_event({"Action": "die", "id": "abc", "Actor": {"Attributes": {"exitCode": "137"}}}))
    t = inv.snapshot()[0]
    assert not t.running and t.exit_code == 137
    inv.on_event(container_event({"Action": "oom", "id": "abc"}))
    engine.bodies["abc"] = inspect_body()
    inv.on_event(container_event({"Action": "start", "id": "abc"}))
    t = inv.snapshot()[0]
    assert t.running and t.restarts == 1 and t.oom_events == 1
    engine.bodies["abc"] = inspect_body(name="/shop-t-web-1-old")
    inv.on_event(container_event({"Action": "rename", "id": "abc"}))
    assert inv.snapshot()[0].name == "shop-t-web-1-old"
    inv.on_event(container_event({"Action": "destroy", "id": "abc"}))
    assert inv.snapshot() == []


def test_selector_drops_other_containers() -> None:
    engine = FakeEngine()
    engine.bodies["abc"] = inspect_body()
    inv = Inventory(engine, {"dockyard.test": "monitor"})
    inv.on_event(container_event({"Action": "start", "id": "abc"}))
    assert inv.snapshot() == []


def test_another_containers_start_is_not_inspected_and_ours_is() -> None:
    """On a busy host most events are others' containers: their labels ride on the event, so the
    inventory asks the engine about its own only (issue 30: the agent under 1 % of a core)."""
    engine = FakeEngine()
    engine.bodies["abc"] = inspect_body()
    engine.bodies["xyz"] = inspect_body(cid="xyz", name="/other")
    asked: list[str] = []
    inspect = engine.inspect_replica
    engine.inspect_replica = lambda cid: asked.append(cid) or inspect(cid)  # type: ignore[method-assign]
    inv = Inventory(engine, {"dockyard.app": "shop"})
    inv.on_event(container_event({"Action": "start", "id": "xyz", "Actor": {"Attributes": {"dockyard.app": "blog"}}}))
    inv.on_event(container_event({"Action": "start", "id": "abc", "Actor": {"Attributes": {"dockyard.app": "shop"}}}))
    inv.on_event(container_event({"Action": "rename", "id": "abc", "Actor": {"Attributes": {"name": "new"}}}))
    assert asked == ["abc", "abc"] and [t.name for t in inv.snapshot()] == ["shop-t-web-1"]


def test_a_fresh_agent_starts_now_and_a_restarted_one_where_it_left_off() -> None:
    now = 1_800_000_000.5
    assert start_point(None, now) == (1_800_000_000, 1_800_000_000_500_000_000)
    saved = 1_799_999_990_250_000_000  # ten seconds before
    assert start_point(saved, now) == (1_799_999_990, saved)
    assert start_point(saved - 3600 * 10**9, now) == (1_800_000_000, 1_800_000_000_500_000_000)  # too old


class Cursors:
    def __init__(self, at: int | None) -> None:
        self.saved = {"engine-events": at} if at else {}

    def cursor(self, name: str) -> int | None:
        return self.saved.get(name)

    def set_cursor(self, name: str, at: int) -> None:
        self.saved[name] = at


def event(action: str, cid: str, at: int, **attrs: str) -> dict:
    return {"Action": action, "id": cid, "time": at // 10**9, "timeNano": at, "Actor": {"ID": cid, "Attributes": attrs}}


def test_a_restarted_agent_replays_what_the_engine_did_while_it_was_down() -> None:
    """web-1 died and came back, and old-1 died for good, while the agent was down: both are events
    when it starts again; what it had handled before (at or before its cursor) is not twice."""
    engine = FakeEngine()
    engine.bodies["abc"] = inspect_body(restarts=1)  # running again by the time the agent starts
    labels = {"dockyard.app": "shop", "dockyard.env": "t", "dockyard.service": "web"}
    cursor_at = int((time.time() - 30) * 1e9)
    stream = [event("die", "abc", cursor_at, exitCode="1", name="shop-t-web-1", **labels),  # handled before
              event("die", "abc", cursor_at + 10**9, exitCode="137", name="shop-t-web-1", **labels),
              event("start", "abc", cursor_at + 2 * 10**9, name="shop-t-web-1", **labels),
              event("die", "def", cursor_at + 3 * 10**9, exitCode="1", name="shop-t-old-1", **labels),
              event("die", "xyz", cursor_at + 4 * 10**9, exitCode="1", name="other", **{"dockyard.app": "x"})]
    asked: list[object] = []
    inv = Inventory(engine, {"dockyard.app": "shop"})

    def events(since: int) -> Iterator[dict[str, Any]]:  # the engine, from `since`, then the agent stops
        asked.append(since)
        yield from stream
        inv._stopping = True

    engine.events = events
    found: list[str] = []
    inv.on_lifecycle = lambda e: found.append(f"{e.rule} {e.container}: {e.message}")
    inv.cursor = Cursors(cursor_at)
    inv.start()
    inv._thread.join(5)  # type: ignore[union-attr]
    assert asked == [cursor_at // 10**9]
    assert found == ["container:died shop-t-web-1: shop-t-web-1 exited with code 137",
                     "container:restarted shop-t-web-1: shop-t-web-1 was restarted",
                     "container:died shop-t-old-1: shop-t-old-1 exited with code 1"]
    assert inv.snapshot()[0].running
    inv.stop()
    assert inv.cursor.saved["engine-events"] == cursor_at + 4 * 10**9  # type: ignore[union-attr]


def test_listeners_hear_of_changes_to_our_containers_only() -> None:
    """The agent's log forwarder has no event stream of its own: the inventory wakes it (one stream
    for the agent, issue 30), when one of its containers starts, dies or goes, and on (re)connecting."""
    engine = FakeEngine()
    engine.bodies["abc"] = inspect_body()
    inv = Inventory(engine, {"dockyard.app": "shop"})

    def events(since: int) -> Iterator[dict[str, Any]]:
        yield {"Action": "start", "id": "xyz", "Actor": {"Attributes": {"dockyard.app": "blog"}}}
        yield {"Action": "exec_start: sh", "id": "abc"}
        yield {"Action": "start", "id": "abc", "Actor": {"Attributes": {"dockyard.app": "shop"}}}
        yield {"Action": "die", "id": "abc"}
        inv._stopping = True  # the stream ends, and the inventory with it

    engine.events = events
    heard: list[int] = []
    inv.listeners.append(lambda: heard.append(len(inv.snapshot())))
    inv.listeners.append(lambda: None if 1 / 0 else None)  # a faulty one stops neither the stream nor the others
    inv._follow(0)
    assert heard == [0, 1, 1]  # connected; abc started; abc died

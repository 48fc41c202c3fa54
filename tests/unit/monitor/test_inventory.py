from __future__ import annotations

from typing import Any

from dockyard.monitor.inventory import Inventory, matches, published_ports, tracked_from_inspect


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
    t = tracked_from_inspect(inspect_body())
    assert (t.name, t.pid, t.running, t.app, t.env, t.service) == ("shop-t-web-1", 4242, True, "shop", "t", "web")
    assert t.ports == {(8080, "tcp"): 32001, (53, "udp"): 5353}
    assert t.upper_dir.endswith("/diff") and t.log_path.endswith("-json.log")


def test_published_ports_ignores_other_host_addresses() -> None:
    attrs = {"NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "10.1.2.3", "HostPort": "80"}]}}}
    assert published_ports(attrs) == {}


def test_matches() -> None:
    assert matches({"a": "1", "b": "2"}, {"a": "1", "b": ""})
    assert not matches({"a": "1"}, {"a": "2"})


class FakeAPI:
    def __init__(self) -> None:
        self.bodies: dict[str, dict] = {}

    def containers(self, filters: Any = None) -> list[dict]:
        return [{"Id": cid} for cid, b in self.bodies.items() if b["State"]["Running"]]

    def inspect_container(self, cid: str) -> dict:
        return self.bodies[cid]


class FakeClient:
    def __init__(self) -> None:
        self.api = FakeAPI()


def test_events_keep_the_map_current() -> None:
    client = FakeClient()
    client.api.bodies["abc"] = inspect_body()
    inv = Inventory(client)  # type: ignore[arg-type]
    inv.refresh()
    assert [t.name for t in inv.snapshot()] == ["shop-t-web-1"]
    inv.on_event({"Action": "die", "id": "abc", "Actor": {"Attributes": {"exitCode": "137"}}})
    t = inv.snapshot()[0]
    assert not t.running and t.exit_code == 137
    inv.on_event({"Action": "oom", "id": "abc"})
    client.api.bodies["abc"] = inspect_body()
    inv.on_event({"Action": "start", "id": "abc"})
    t = inv.snapshot()[0]
    assert t.running and t.restarts == 1 and t.oom_events == 1
    client.api.bodies["abc"] = inspect_body(name="/shop-t-web-1-old")
    inv.on_event({"Action": "rename", "id": "abc"})
    assert inv.snapshot()[0].name == "shop-t-web-1-old"
    inv.on_event({"Action": "destroy", "id": "abc"})
    assert inv.snapshot() == []


def test_selector_drops_other_containers() -> None:
    client = FakeClient()
    client.api.bodies["abc"] = inspect_body()
    inv = Inventory(client, {"dockyard.test": "monitor"})  # type: ignore[arg-type]
    inv.on_event({"Action": "start", "id": "abc"})
    assert inv.snapshot() == []

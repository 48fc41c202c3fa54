"""The agent's engine reads over a unix socket with the standard library (engine/local_socket.py, on engine/wire.py),
against a small Engine API stand-in on a socket of the test's own: what it asks, what it makes of
the answers, and its failures in Dockyard's words."""

from __future__ import annotations

import json
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from dockyard.engine.local_socket import LocalEngine, socket_path
from dockyard.engine.wire import Wire
from dockyard.errors import EngineError, EngineUnavailable
from dockyard.settings import EngineSettings

CONTAINER = {"Id": "c1" * 32, "Name": "/shop-testing-web-1", "RestartCount": 2,
             "Config": {"Labels": {"dockyard.app": "shop", "dockyard.env": "testing", "dockyard.service": "web"},
                        "Image": "shop:1"},
             "State": {"Running": True, "Pid": 4242, "ExitCode": 0, "Status": "running"},
             "HostConfig": {"CgroupParent": ""}, "NetworkSettings": {"Ports": {}}}
EVENTS = [{"Type": "container", "Action": "start", "id": "c1" * 32, "timeNano": 1700000000123456789,
           "Actor": {"ID": "c1" * 32, "Attributes": {"name": "shop-testing-web-1", "dockyard.app": "shop"}}},
          {"Type": "container", "Action": "die", "id": "c1" * 32, "timeNano": 1700000001000000000,
           "Actor": {"ID": "c1" * 32, "Attributes": {"name": "shop-testing-web-1", "exitCode": "137"}}}]


class Engine(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    asked: list[tuple[str, dict[str, list[str]]]]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept alive, as dockerd does
    server: Engine

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        url = urlparse(self.path)
        self.server.asked.append((url.path, parse_qs(url.query)))
        if url.path == "/v1.41/containers/json":
            self.send(200, [{"Id": CONTAINER["Id"]}, {"Id": "gone" * 16}])
        elif url.path == f"/v1.41/containers/{CONTAINER['Id']}/json":
            self.send(200, CONTAINER)
        elif url.path.startswith("/v1.41/containers/"):
            self.send(404, {"message": "No such container"})
        elif url.path == "/v1.41/info":
            self.send(200, {"CgroupDriver": "systemd", "Name": "host-1"})
        elif url.path == "/v1.41/events":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in EVENTS:
                line = json.dumps(event).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send(500, {"message": "the engine broke"})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[LocalEngine, Engine]]:
    path = str(tmp_path / "docker.sock")
    server = Engine(path, Handler)
    server.asked = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    local = LocalEngine("local", EngineSettings(host=f"unix://{path}"), Wire(EngineSettings(host=f"unix://{path}"), 5))
    yield local, server
    local.close()
    server.shutdown()
    server.server_close()


def test_a_unix_host_is_read_over_its_socket_and_no_other() -> None:
    assert socket_path("unix:///var/run/docker.sock") == "/var/run/docker.sock"
    assert socket_path("tcp://10.0.0.2:2376") is None


def test_the_running_containers_by_label_one_gone_before_its_inspect_left_out(
        engine: tuple[LocalEngine, Engine]) -> None:
    local, server = engine
    [facts] = local.running_replicas({"dockyard.app": "shop", "dockyard.test": ""})
    assert (facts.id, facts.name, facts.pid, facts.running) == (CONTAINER["Id"], "shop-testing-web-1", 4242, True)
    assert facts.labels["dockyard.service"] == "web"
    path, query = server.asked[0]
    assert path == "/v1.41/containers/json"
    assert json.loads(query["filters"][0]) == {"status": ["running"], "label": ["dockyard.app=shop", "dockyard.test"]}
    assert local.inspect_replica("gone" * 16) is None
    assert local.cgroup_driver() == "systemd"


def test_the_event_stream_as_container_events(engine: tuple[LocalEngine, Engine]) -> None:
    local, server = engine
    stream = local.container_events(1700000000)
    events = list(stream)
    stream.close()
    assert [(e.action, e.name, e.time_ns, e.exit_code) for e in events] == [
        ("start", "shop-testing-web-1", 1700000000123456789, None),
        ("die", "shop-testing-web-1", 1700000001000000000, 137)]
    assert events[0].labels == {"dockyard.app": "shop"}
    path, query = server.asked[-1]
    assert (path, query["since"], json.loads(query["filters"][0])) == ("/v1.41/events", ["1700000000"],
                                                                       {"type": ["container"]})


def test_an_error_status_and_a_missing_engine_in_dockyards_words(engine: tuple[LocalEngine, Engine],
                                                                 tmp_path: Path) -> None:
    local, _ = engine
    with pytest.raises(EngineError, match="the engine broke"):
        local._get("asking", "/broken")
    nowhere = LocalEngine("local", EngineSettings(host="unix:///nowhere.sock"),
                          Wire(EngineSettings(host=f"unix://{tmp_path / 'no.sock'}")))
    with pytest.raises(EngineUnavailable, match="listing containers on engine 'local': the engine stopped answering"):
        nowhere.running_replicas({})

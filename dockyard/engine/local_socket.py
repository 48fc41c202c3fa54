"""The engine's reads over its unix socket, with the standard library only: what the host agent
asks of the engine (the containers it follows, one inspect, the event stream, the cgroup driver).

docker-py with requests, urllib3 and ssl is about 15 MB of a process's memory; the agent, which
runs for the host's whole life, holds under 40 MB with it gone (issue 30). An engine reached over
tcp:// (TLS) is read through docker-py as before (`connect_reads`).

The same JSON as docker-py reads (Engine API 1.41), made into engine/facts.py's dataclasses.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode

from dockyard import settings
from dockyard.engine.facts import ContainerEvent, EventStream, ReplicaFacts, container_event, replica_facts
from dockyard.errors import EngineError, EngineUnavailable
from dockyard.settings import EngineSettings

__all__ = ["LocalEngine", "ReadEngine", "SocketClient", "connect_reads", "socket_path"]

API = "/v1.41"


class ReadEngine(Protocol):
    """What the agent reads of an engine: LocalEngine here, or engine.client.DockerEngine."""

    name: str
    config: EngineSettings

    def running_replicas(self, selector: Mapping[str, str]) -> list[ReplicaFacts]: ...

    def inspect_replica(self, container_id: str) -> ReplicaFacts | None: ...

    def container_events(self, since: int) -> EventStream: ...

    def cgroup_driver(self) -> str: ...

    def close(self) -> None: ...


def socket_path(host: str) -> str | None:
    """The socket's path of a unix:// engine; None for any other."""
    return host.removeprefix("unix://") if host.startswith("unix://") else None


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class HttpStatus(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class SocketClient:
    """GETs of the Engine API on one kept-alive connection (one request at a time), and streams on
    connections of their own."""

    def __init__(self, path: str, timeout: float = 60.0) -> None:
        self.path = path
        self.timeout = timeout
        self._lock = threading.Lock()
        self._conn: _UnixConnection | None = None

    def get(self, path: str, query: Mapping[str, str] | None = None) -> Any:
        """The decoded JSON answer; HttpStatus for an error status, OSError when the engine is not there."""
        target = API + path + (f"?{urlencode(query)}" if query else "")
        with self._lock:
            for attempt in (0, 1):  # a kept-alive connection the engine closed meanwhile: once more, anew
                conn = self._conn or _UnixConnection(self.path, self.timeout)
                self._conn = None
                try:
                    conn.request("GET", target)
                    answer = conn.getresponse()
                    body = answer.read()
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    conn.close()
                    if attempt:
                        raise
                    continue
                except BaseException:
                    conn.close()
                    raise
                if answer.will_close:
                    conn.close()
                else:
                    self._conn = conn
                if answer.status >= 400:
                    raise HttpStatus(answer.status, _message(body))
                return json.loads(body) if body.strip() else None
        raise AssertionError("unreachable")

    def stream(self, path: str, query: Mapping[str, str]) -> JsonStream:
        """A streamed answer (events), one JSON document a line, on a connection of its own without a timeout."""
        conn = _UnixConnection(self.path, None)
        try:
            conn.request("GET", f"{API}{path}?{urlencode(query)}")
            answer = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        if answer.status >= 400:
            body = answer.read()
            conn.close()
            raise HttpStatus(answer.status, _message(body))
        return JsonStream(conn, answer)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message") or body[:300].decode(errors="replace"))
    except (ValueError, AttributeError):
        return body[:300].decode(errors="replace").strip()


class JsonStream:
    def __init__(self, conn: http.client.HTTPConnection, answer: http.client.HTTPResponse) -> None:
        self.conn, self.answer = conn, answer

    def __iter__(self) -> Iterator[Any]:
        while True:
            line = self.answer.readline()
            if not line:
                return
            if line.strip():
                yield json.loads(line)

    def close(self) -> None:
        try:
            if self.conn.sock is not None:
                self.conn.sock.shutdown(socket.SHUT_RDWR)  # wakes a reader blocked in readline()
        except OSError:
            pass
        self.conn.close()


class _Events:
    """The stream of container events as ContainerEvents (engine/facts.py's EventStream)."""

    def __init__(self, raw: JsonStream, name: str) -> None:
        self.raw, self.name = raw, name

    def __iter__(self) -> Iterator[ContainerEvent]:
        try:
            for event in self.raw:
                yield container_event(event)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise EngineUnavailable(f"following the events of engine {self.name!r}: the engine stopped "
                                    f"answering: {exc or type(exc).__name__}") from exc

    def close(self) -> None:
        self.raw.close()


@dataclass
class LocalEngine:
    """An engine on this host's unix socket, for reads (ReadEngine)."""

    name: str
    config: EngineSettings
    client: SocketClient

    is_local_host = True

    def _get(self, action: str, path: str, query: Mapping[str, str] | None = None) -> Any:
        try:
            return self.client.get(path, query)
        except HttpStatus as exc:
            raise EngineError(f"{action}: {exc.message}") from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise EngineUnavailable(f"{action}: the engine stopped answering: {exc or type(exc).__name__}") from exc

    def running_replicas(self, selector: Mapping[str, str]) -> list[ReplicaFacts]:
        """The running containers whose labels match `selector`; one gone before its inspect is left out."""
        filters: dict[str, list[str]] = {"status": ["running"]}
        if selector:
            filters["label"] = [f"{k}={v}" if v else k for k, v in selector.items()]
        listed = self._get(f"listing containers on engine {self.name!r}", "/containers/json",
                           {"filters": json.dumps(filters)})
        found = (self.inspect_replica(summary["Id"]) for summary in listed or [])
        return [facts for facts in found if facts is not None]

    def inspect_replica(self, container_id: str) -> ReplicaFacts | None:
        try:
            return replica_facts(self.client.get(f"/containers/{quote(container_id, safe='')}/json"))
        except HttpStatus as exc:
            if exc.status == 404:
                return None
            raise EngineError(f"inspecting container {container_id[:12]}: {exc.message}") from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise EngineUnavailable(f"inspecting container {container_id[:12]}: the engine stopped answering: "
                                    f"{exc or type(exc).__name__}") from exc

    def container_events(self, since: int) -> EventStream:
        action = f"following the events of engine {self.name!r}"
        try:
            raw = self.client.stream("/events", {"since": str(since),
                                                 "filters": json.dumps({"type": ["container"]})})
        except HttpStatus as exc:
            raise EngineError(f"{action}: {exc.message}") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise EngineUnavailable(f"{action}: the engine stopped answering: {exc or type(exc).__name__}") from exc
        return _Events(raw, self.name)

    def cgroup_driver(self) -> str:
        info = self._get(f"asking engine {self.name!r} about its cgroups", "/info") or {}
        return str(info.get("CgroupDriver") or "cgroupfs")

    def close(self) -> None:
        self.client.close()


def connect_reads(name: str, site: settings.Settings | None = None, timeout: float = 60.0) -> ReadEngine:
    """The engine `name` for reads: over its unix socket with the standard library, else docker-py."""
    cfg = settings.engine(name, site)
    path = socket_path(cfg.host)
    if path is None:
        from dockyard.engine.client import connect

        return connect(name, site, int(timeout))
    client = SocketClient(path, timeout)
    try:
        client.get("/version")
    except (OSError, http.client.HTTPException, HttpStatus, ValueError) as exc:
        client.close()
        raise EngineUnavailable(f"engine {name!r} at {cfg.host} is not reachable: {exc or type(exc).__name__}",
                                hint="check that dockerd runs there (dockyard doctor)") from exc
    return LocalEngine(name=name, config=cfg, client=client)

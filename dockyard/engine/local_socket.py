"""The engine's reads over its unix socket (engine/wire.py, the standard library only): what the host agent
asks of the engine (the containers it follows, one inspect, the event stream, the cgroup driver).

docker-py with requests, urllib3 and ssl is about 15 MB of a process's memory; the agent, which
runs for the host's whole life, holds under 40 MB with it gone (issue 30). An engine reached over
tcp:// (TLS) is read through docker-py as before (`connect_reads`).

The same JSON as docker-py reads (Engine API 1.41), made into engine/facts.py's dataclasses.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from dockyard import settings
from dockyard.engine.facts import ContainerEvent, EventStream, ReplicaFacts, container_event, replica_facts
from dockyard.engine.host import containers_folder
from dockyard.engine.wire import JsonStream, Wire, WireError, WireRefused
from dockyard.errors import EngineError, EngineUnavailable
from dockyard.settings import EngineSettings

__all__ = ["LocalEngine", "ReadEngine", "connect_reads", "event_filters", "socket_path"]


class ReadEngine(Protocol):
    """What the agent reads of an engine: LocalEngine here, or engine.client.DockerEngine."""

    name: str
    config: EngineSettings

    def running_replicas(self, selector: Mapping[str, str]) -> list[ReplicaFacts]: ...

    def inspect_replica(self, container_id: str) -> ReplicaFacts | None: ...

    def container_events(self, since: int) -> EventStream: ...

    def cgroup_driver(self) -> str: ...

    def containers_root(self) -> str: ...

    def close(self) -> None: ...


def socket_path(host: str) -> str | None:
    """The socket's path of a unix:// engine; None for any other."""
    return host.removeprefix("unix://") if host.startswith("unix://") else None


class _Events:
    """The stream of container events as ContainerEvents (engine/facts.py's EventStream)."""

    def __init__(self, raw: JsonStream, name: str) -> None:
        self.raw, self.name = raw, name

    def __iter__(self) -> Iterator[ContainerEvent]:
        try:
            for event in self.raw:
                yield container_event(event)
        except (OSError, ValueError) as exc:
            raise EngineUnavailable(f"following the events of engine {self.name!r}: the engine stopped "
                                    f"answering: {exc or type(exc).__name__}") from exc

    def close(self) -> None:
        self.raw.close()


@dataclass
class LocalEngine:
    """An engine on this host's unix socket, for reads (ReadEngine)."""

    name: str
    config: EngineSettings
    client: Wire

    is_local_host = True

    def _get(self, action: str, path: str, query: Mapping[str, str] | None = None) -> Any:
        try:
            return self.client.get(path, dict(query or {}))
        except WireRefused as exc:
            raise EngineError(f"{action}: {exc.message}") from exc
        except (WireError, ValueError) as exc:
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
        except WireRefused as exc:
            if exc.status == 404:
                return None
            raise EngineError(f"inspecting container {container_id[:12]}: {exc.message}") from exc
        except (WireError, ValueError) as exc:
            raise EngineUnavailable(f"inspecting container {container_id[:12]}: the engine stopped answering: "
                                    f"{exc or type(exc).__name__}") from exc

    def container_events(self, since: int, labels: Mapping[str, str] | None = None,
                         actions: Collection[str] = ()) -> EventStream:
        """The container events from `since` on; with `labels` (a selector: KEY=VALUE, or KEY alone for
        an empty value) and `actions`, only those the engine finds matching are sent (the engine filters:
        a busy host's other containers, builds and execs cost the reader nothing)."""
        action = f"following the events of engine {self.name!r}"
        try:
            raw = self.client.stream("/events", {"since": str(since),
                                                 "filters": json.dumps(event_filters(labels, actions))})
        except WireRefused as exc:
            raise EngineError(f"{action}: {exc.message}") from exc
        except WireError as exc:
            raise EngineUnavailable(f"{action}: the engine stopped answering: {exc or type(exc).__name__}") from exc
        return _Events(raw, self.name)

    def cgroup_driver(self) -> str:
        info = self._get(f"asking engine {self.name!r} about its cgroups", "/info") or {}
        return str(info.get("CgroupDriver") or "cgroupfs")

    def containers_root(self) -> str:
        info = self._get(f"asking engine {self.name!r} where it keeps its containers", "/info") or {}
        return containers_folder(info)

    def close(self) -> None:
        self.client.close()


def event_filters(labels: Mapping[str, str] | None = None, actions: Collection[str] = ()) -> dict[str, list[str]]:
    """Pure: the engine's filters for container events of these labels and actions. The engine takes
    every label filter (all must match, as the inventory's selector) and any action; an action of
    health_status matches "health_status: unhealthy" too (the engine then matches actions by prefix)."""
    filters = {"type": ["container"]}
    if labels:
        filters["label"] = [f"{k}={v}" if v else k for k, v in labels.items()]
    if actions:
        filters["event"] = sorted(actions)
    return filters


def connect_reads(name: str, site: settings.Settings | None = None, timeout: float = 60.0) -> ReadEngine:
    """The engine `name` for reads: over its unix socket with the standard library, else docker-py."""
    cfg = settings.engine(name, site)
    path = socket_path(cfg.host)
    if path is None:
        from dockyard.engine.client import connect

        return connect(name, site, int(timeout))
    client = Wire(cfg, timeout)
    try:
        client.get("/version")
    except (WireError, WireRefused, ValueError) as exc:
        client.close()
        raise EngineUnavailable(f"engine {name!r} at {cfg.host} is not reachable: {exc or type(exc).__name__}",
                                hint="check that dockerd runs there (dockyard doctor)") from exc
    return LocalEngine(name=name, config=cfg, client=client)

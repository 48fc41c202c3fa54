"""Which containers run on this host: listed once, then followed through the engine's event stream.

`tracked_from_inspect` is pure (an inspect body in, a `Tracked` out); `Inventory` is the
adapter: one list at start, then one inspect per `start` event, never a list per sweep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import requests.exceptions

from dockyard.engine import labels as L
from dockyard.engine.api import Client, DockerError, DockerNotFound
from dockyard.monitor.alerts import AlertEvent
from dockyard.monitor.lifecycle import lifecycle_event

log = logging.getLogger("dockyard.monitor")


@dataclass(frozen=True)
class Tracked:
    id: str
    name: str
    labels: dict[str, str]
    pid: int
    running: bool
    restarts: int = 0
    exit_code: int | None = None
    oom_events: int = 0
    ports: dict[tuple[int, str], int] = field(default_factory=dict)  # (container port, proto) -> host port
    upper_dir: str = ""
    log_path: str = ""
    cgroup_parent: str = ""
    started_at: str = ""

    @property
    def app(self) -> str:
        return self.labels.get(L.APP, "")

    @property
    def env(self) -> str:
        return self.labels.get(L.ENV, "")

    @property
    def service(self) -> str:
        return self.labels.get(L.SERVICE, "")


def published_ports(attrs: dict[str, Any]) -> dict[tuple[int, str], int]:
    """(container port, proto) -> host port, for bindings reachable on the host's loopback."""
    out: dict[tuple[int, str], int] = {}
    for key, bindings in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        for binding in bindings or []:
            if binding.get("HostIp") in ("127.0.0.1", "0.0.0.0", "", "::") and binding.get("HostPort"):
                out[(int(port), proto or "tcp")] = int(binding["HostPort"])
                break
    return out


def tracked_from_inspect(attrs: dict[str, Any]) -> Tracked:
    state = attrs.get("State") or {}
    graph = (attrs.get("GraphDriver") or {}).get("Data") or {}
    return Tracked(
        id=attrs["Id"],
        name=(attrs.get("Name") or "").lstrip("/"),
        labels=dict((attrs.get("Config") or {}).get("Labels") or {}),
        pid=int(state.get("Pid") or 0),
        running=bool(state.get("Running")),
        restarts=int(attrs.get("RestartCount") or 0),
        exit_code=None if state.get("Running") else state.get("ExitCode"),
        ports=published_ports(attrs),
        upper_dir=graph.get("UpperDir", ""),
        log_path=attrs.get("LogPath") or "",
        cgroup_parent=(attrs.get("HostConfig") or {}).get("CgroupParent") or "",
        started_at=state.get("StartedAt", ""),
    )


def matches(labels: dict[str, str], selector: dict[str, str]) -> bool:
    return all(labels.get(k) == v if v else k in labels for k, v in selector.items())


class Inventory:
    """Thread-safe map id -> Tracked, kept current by the event stream. A component of the agent."""

    name = "inventory"

    def __init__(self, client: Client, selector: dict[str, str] | None = None) -> None:
        self.client = client
        self.selector = selector or {}
        self.lock = threading.Lock()
        self.containers: dict[str, Tracked] = {}
        self.changed = threading.Event()
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.on_lifecycle: Callable[[AlertEvent], None] | None = None  # died, OOM-killed, restarted, unhealthy

    # --- component
    def start(self) -> None:
        since = int(time.time())
        self.refresh()
        self._thread = threading.Thread(target=self._follow, args=(since,), name="monitor-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # noqa: BLE001 - closing a dead stream
                pass
        if self._thread:
            self._thread.join(timeout=5)

    # --- queries
    def snapshot(self) -> list[Tracked]:
        with self.lock:
            return list(self.containers.values())

    def mark_down(self, cid: str) -> None:
        with self.lock:
            item = self.containers.get(cid)
            if item and item.running:
                self.containers[cid] = replace(item, running=False)

    # --- engine
    def refresh(self) -> None:
        filters: dict[str, Any] = {"status": "running"}
        if self.selector:
            filters["label"] = [f"{k}={v}" if v else k for k, v in self.selector.items()]
        found = {}
        for summary in self.client.api.containers(filters=filters):
            item = self._inspect(summary["Id"])
            if item:
                found[item.id] = item
        with self.lock:
            self.containers = found
        self.changed.set()

    def _inspect(self, cid: str) -> Tracked | None:
        try:
            item = tracked_from_inspect(self.client.api.inspect_container(cid))
        except DockerNotFound:
            return None
        return item if matches(item.labels, self.selector) else None

    def _follow(self, since: int) -> None:
        while not self._stopping:
            try:
                self._stream = self.client.api.events(since=since, decode=True, filters={"type": "container"})
                for event in self._stream:
                    since = int(event.get("time") or since)
                    self.on_event(event)
            except (*DockerError, requests.exceptions.RequestException, OSError) as exc:
                if self._stopping:
                    return
                log.warning("engine event stream broke (%s); reconnecting", exc)
                time.sleep(1)
            except Exception:  # noqa: BLE001 - a closed stream raises whatever urllib3 likes
                if self._stopping:
                    return
                raise

    def on_event(self, event: dict[str, Any]) -> None:
        action = (event.get("Action") or event.get("status") or "").split(":")[0]
        cid = event.get("id") or (event.get("Actor") or {}).get("ID", "")
        if self.on_lifecycle is not None:
            with self.lock:
                known = self.containers.get(cid)
            if known is not None:  # one of ours (the selector): a fault worth an event?
                found = lifecycle_event(event, known.name, known.labels, known.running)
                if found is not None:
                    self.on_lifecycle(found)
        if action == "rename":
            item = self._inspect(cid)
            with self.lock:
                old = self.containers.get(cid)
                if item and old:
                    self.containers[cid] = replace(old, name=item.name)
        elif action == "start":
            item = self._inspect(cid)
            if item is None:
                return
            with self.lock:
                old = self.containers.get(cid)
                if old is not None:
                    item = replace(item, restarts=max(item.restarts, old.restarts + (0 if old.running else 1)),
                                   oom_events=old.oom_events)
                self.containers[cid] = item
        elif action == "die":
            with self.lock:
                old = self.containers.get(cid)
                if old:
                    code = (event.get("Actor") or {}).get("Attributes", {}).get("exitCode")
                    self.containers[cid] = replace(old, running=False,
                                                   exit_code=int(code) if code is not None else None)
        elif action == "oom":
            with self.lock:
                old = self.containers.get(cid)
                if old:
                    self.containers[cid] = replace(old, oom_events=old.oom_events + 1)
        elif action == "destroy":
            with self.lock:
                self.containers.pop(cid, None)
        else:
            return
        self.changed.set()

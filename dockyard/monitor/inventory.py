"""Which containers run on this host: listed once, then followed through the engine's event stream.

`tracked` is pure (the engine's ReplicaFacts in, a `Tracked` out); `Inventory` asks the engine
(a `ReplicaReader`): one list at start, then one inspect per `start` event, never a list per sweep.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from dockyard.engine.facts import ContainerEvent, EventStream, Labelled, ReplicaFacts
from dockyard.errors import EngineError
from dockyard.monitor.alerts import AlertEvent
from dockyard.monitor.lifecycle import lifecycle_event

log = logging.getLogger("dockyard.monitor")


@dataclass(frozen=True)
class Tracked(Labelled):
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


def tracked(facts: ReplicaFacts) -> Tracked:
    return Tracked(
        id=facts.id,
        name=facts.name,
        labels=dict(facts.labels),
        pid=facts.pid,
        running=facts.running,
        restarts=facts.restarts,
        exit_code=facts.exit_code,
        ports=facts.host_ports(),
        upper_dir=facts.upper_dir,
        log_path=facts.log_path,
        cgroup_parent=facts.cgroup_parent,
        started_at=facts.started_at,
    )


def matches(labels: dict[str, str], selector: dict[str, str]) -> bool:
    return all(labels.get(k) == v if v else k in labels for k, v in selector.items())


class ReplicaReader(Protocol):
    """What the inventory asks the engine: engine.client.Engine, or a unit test's fake."""

    def running_replicas(self, selector: Mapping[str, str]) -> list[ReplicaFacts]: ...

    def inspect_replica(self, container_id: str) -> ReplicaFacts | None: ...

    def container_events(self, since: int) -> EventStream: ...


class EventCursor(Protocol):
    """Where the event stream was last read, kept across restarts (monitor.History is one)."""

    def cursor(self, name: str) -> int | None: ...

    def set_cursor(self, name: str, at: int) -> None: ...


# The actions the inventory (and the lifecycle events) act on: where the engine can filter its stream
# (monitor/agent.py), it sends only these, of our containers.
EVENT_ACTIONS = ("start", "rename", "die", "oom", "destroy", "health_status")
CURSOR = "engine-events"
REPLAY_LIMIT_S = 3600  # a cursor older than this is not followed: the engine keeps few events anyway
CURSOR_EVERY_S = 1.0  # the cursor is written at most this often (replays are harmless, writes are not free)


def start_point(saved: int | None, now: float) -> tuple[int, int]:
    """(since for the engine, in whole seconds; the last event already seen, in nanoseconds)."""
    if saved is None or saved < (now - REPLAY_LIMIT_S) * 1e9:
        return int(now), int(now * 1e9)
    return saved // 1_000_000_000, saved


def identity_from_event(event: ContainerEvent, selector: dict[str, str]) -> tuple[str, dict[str, str]] | None:
    """(name, labels) of a container the inventory does not hold (it was gone before the agent
    started), from what the event carries; None if the selector leaves it out."""
    labels = dict(event.labels)
    return (event.name, labels) if event.name and matches(labels, selector) else None


class Inventory:
    """Thread-safe map id -> Tracked, kept current by the event stream. A component of the agent."""

    name = "inventory"

    def __init__(self, engine: ReplicaReader, selector: dict[str, str] | None = None) -> None:
        self.engine = engine
        self.selector = selector or {}
        self.events: Callable[[int], EventStream] = engine.container_events  # the stream from `since` on
        self.lock = threading.Lock()
        self.containers: dict[str, Tracked] = {}
        self.changed = threading.Event()
        self._stream: EventStream | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.on_lifecycle: Callable[[AlertEvent], None] | None = None  # died, OOM-killed, restarted, unhealthy
        self.cursor: EventCursor | None = None
        # Called (no arguments) when a container of ours changed, and when the event stream was
        # (re)connected (events may have been missed): the agent's log forwarder scans its folder then,
        # so it needs no event stream of its own.
        self.listeners: list[Callable[[], None]] = []
        self._seen = 0  # the newest event handled, in nanoseconds
        self._saved_at = 0.0
        self._started = 0  # when this agent started, in nanoseconds: what came before is a replay
        self._stopped_unknown: set[str] = set()  # replayed: containers not held that died

    # --- component
    def start(self) -> None:
        now = time.time()
        self._started = int(now * 1e9)
        since, self._seen = start_point(self.cursor.cursor(CURSOR) if self.cursor else None, now)
        self._save_cursor(force=True)  # killed before any event, the next start still goes on from here
        self.refresh()
        self._thread = threading.Thread(target=self._follow, args=(since,), name="monitor-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        self._save_cursor(force=True)
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
        found = {}
        for facts in self.engine.running_replicas(self.selector):
            if matches(dict(facts.labels), self.selector):
                found[facts.id] = tracked(facts)
        with self.lock:
            self.containers = found
        self.changed.set()

    def _inspect(self, cid: str) -> Tracked | None:
        facts = self.engine.inspect_replica(cid)
        return tracked(facts) if facts is not None and matches(dict(facts.labels), self.selector) else None

    def _follow(self, since: int) -> None:
        while not self._stopping:
            try:
                self._stream = self.events(since)
                self._notify()
                for event in self._stream:
                    nanos = event.time_ns
                    since = nanos // 1_000_000_000 or since
                    if nanos and nanos <= self._seen:
                        continue  # handled before: the stream resumes from a whole second
                    self._seen = max(self._seen, nanos)
                    self.on_event(event)
                    self._save_cursor()
            except (EngineError, OSError) as exc:  # requests' errors are OSErrors too
                if self._stopping:
                    return
                log.warning("engine event stream broke (%s); reconnecting", exc)
                time.sleep(1)
            except Exception:  # noqa: BLE001 - a closed stream raises whatever urllib3 likes
                if self._stopping:
                    return
                raise

    def _lifecycle(self, cid: str, action: str, event: ContainerEvent) -> None:
        """One of ours (the selector): a fault worth an event? A container the inventory does not
        hold (replayed from before the agent started) is named from the event itself."""
        with self.lock:
            known = self.containers.get(cid)
        if known is not None:
            found = lifecycle_event(event, known.name, known.labels, known.running)
        else:
            identity = identity_from_event(event, self.selector)
            if identity is None or event.time_ns >= self._started:
                return  # live, an unknown container is one that has not started yet
            if action == "die":
                self._stopped_unknown.add(cid)
            found = lifecycle_event(event, *identity,
                                    was_running=not (action == "start" and cid in self._stopped_unknown))
            if action == "start":
                self._stopped_unknown.discard(cid)
        if found is not None:
            self.on_lifecycle(found)  # type: ignore[misc]

    def _ours(self, event: ContainerEvent) -> bool:
        with self.lock:
            if event.id in self.containers:
                return True
        return matches(dict(event.labels), self.selector)

    def _save_cursor(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.cursor is None or not self._seen or (not force and now - self._saved_at < CURSOR_EVERY_S):
            return
        self._saved_at = now
        try:
            self.cursor.set_cursor(CURSOR, self._seen)
        except Exception as exc:  # noqa: BLE001 - a full disk must not stop the stream; replays are harmless
            log.warning("cannot keep the event cursor: %s", exc)

    def on_event(self, event: ContainerEvent) -> None:
        action, cid = event.action, event.id
        if self.on_lifecycle is not None:
            self._lifecycle(cid, action, event)
        if action in ("start", "rename") and not self._ours(event):
            return  # another's container (an event carries its labels): no inspect for it
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
                    self.containers[cid] = replace(old, running=False, exit_code=event.exit_code)
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
        self._notify()

    def _notify(self) -> None:
        for listener in self.listeners:
            try:
                listener()
            except Exception:  # noqa: BLE001 - a listener's fault must not end the stream
                log.exception("inventory listener failed")

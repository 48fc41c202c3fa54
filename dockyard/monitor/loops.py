"""The agent's metric and probe loops: components with start()/stop() that share one MonitorState."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dockyard.monitor.alerts import AlertEvent, AlertState, evaluate
from dockyard.monitor.collector import Collector, DiskUse
from dockyard.monitor.exposition import Snapshot, Source
from dockyard.monitor.history import History
from dockyard.monitor.inventory import Tracked
from dockyard.monitor.probes import Service, discover, probe

if TYPE_CHECKING:
    from dockyard.spec.alerts import AlertRule

log = logging.getLogger("dockyard.monitor")


@dataclass
class MonitorState:
    """What the HTTP endpoints serve: the latest sweep, probes, discovered services, recent alerts."""

    host: str
    history: History | None = None
    snapshot: Snapshot = field(init=False)
    services: list[Service] = field(default_factory=list)
    recent_events: list[AlertEvent] = field(default_factory=list)
    metric_sources: list[Source] = field(default_factory=list)  # other components' /metrics families
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.snapshot = Snapshot(host=self.host)


class _Loop:
    """A thread calling `tick()` every `interval` seconds until stopped."""

    name = "loop"

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"monitor-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - one bad sweep must not end the agent
                log.exception("%s loop failed; going on", self.name)
            next_at += self.interval
            delay = next_at - time.monotonic()
            if delay < 0:
                next_at, delay = time.monotonic(), 0
            self._stop.wait(delay)

    def tick(self) -> None:
        raise NotImplementedError


class MetricsLoop(_Loop):
    name = "metrics"

    def __init__(self, state: MonitorState, collector: Collector, containers: Callable[[], list[Tracked]],
                 disk: Callable[[], dict[str, DiskUse]], rules: list[AlertRule] | None = None,
                 interval: float = 1.0, history_every: float = 10.0) -> None:
        super().__init__(interval)
        self.state = state
        self.collector = collector
        self.containers = containers
        self.disk = disk
        self.rules = rules or []
        self.alerts = AlertState()
        self.history_every = history_every
        self._last_history = 0.0

    def tick(self) -> None:
        wall0, cpu0 = time.perf_counter(), time.thread_time()
        samples = self.collector.sweep(self.containers(), self.disk())
        cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
        now = time.time()
        events = evaluate(self.rules, samples, self.state.snapshot.probes, self.alerts, now)
        with self.state.lock:
            old = self.state.snapshot
            self.state.snapshot = Snapshot(host=self.state.host, samples=samples, probes=old.probes,
                                           sweep_seconds=wall, sweep_cpu_seconds=cpu, sweeps=old.sweeps + 1)
            if events:
                self.state.recent_events = (events + self.state.recent_events)[:500]
        history = self.state.history
        if history is not None:
            if events:
                history.record_events(self.state.host, events)
            if now - self._last_history >= self.history_every:
                history.record(self.state.host, samples, now)
                self._last_history = now


class ProbeLoop(_Loop):
    """Discovery (listening sockets in each container) and probes from outside.

    Reading /proc/<pid>/net/tcp walks the kernel's socket tables, so each container is
    re-discovered only when it is new or restarted, or every `discover_every` seconds;
    the services found are probed every `interval` seconds.
    """

    name = "probes"

    def __init__(self, state: MonitorState, containers: Callable[[], list[Tracked]], interval: float = 10.0,
                 timeout: float = 2.0, proc_root: str = "/proc", discover_every: float = 30.0) -> None:
        super().__init__(interval)
        self.state = state
        self.containers = containers
        self.timeout = timeout
        self.proc_root = proc_root
        self.discover_every = discover_every
        self.found: dict[str, tuple[int, float, list[Service]]] = {}  # id -> (pid, when, services)

    def tick(self) -> None:
        now = time.monotonic()
        items = [i for i in self.containers() if i.running and i.pid > 0]
        due = [i for i in items if self.found.get(i.id, (0, 0.0, []))[0] != i.pid
               or now - self.found[i.id][1] >= self.discover_every]
        fresh: dict[str, list[Service]] = {i.id: [] for i in due}
        for service in discover(due, self.proc_root) if due else []:
            fresh[service.container.id].append(service)
        found: dict[str, tuple[int, float, list[Service]]] = {}
        for item in items:
            if item.id in fresh:
                found[item.id] = (item.pid, now, fresh[item.id])
            else:
                pid, when, old = self.found[item.id]
                found[item.id] = (pid, when, [Service(item, s.listener) for s in old])  # fresh names, ports
        self.found = found
        services = [s for _, _, group in found.values() for s in group]
        results = [r for r in (probe(s, self.timeout) for s in services) if r is not None]
        with self.state.lock:
            self.state.services = services
            snap = self.state.snapshot
            self.state.snapshot = Snapshot(host=snap.host, samples=snap.samples, probes=results,
                                           sweep_seconds=snap.sweep_seconds,
                                           sweep_cpu_seconds=snap.sweep_cpu_seconds, sweeps=snap.sweeps)

"""`dockyard agent`: one per Docker host. A list of components, each with start() and stop().

The monitor brings its own (inventory, disk, metrics, probes, http); other parts (the log
forwarder) are added beside them with `Agent.add`. Components start in order and stop in
reverse; if one fails to start, those already started are stopped again.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dockyard.engine.local_socket import LocalEngine, ReadEngine
from dockyard.monitor.alerts import AlertEvent
from dockyard.monitor.cgroups import detect_layout
from dockyard.monitor.collector import Collector
from dockyard.monitor.disk import DiskLoop
from dockyard.monitor.history import History
from dockyard.monitor.http import HttpEndpoint
from dockyard.monitor.inventory import EVENT_ACTIONS, Inventory
from dockyard.monitor.loops import MetricsLoop, MonitorState, ProbeLoop
from dockyard.monitor.model import DEFAULT_LISTEN

if TYPE_CHECKING:
    from dockyard.spec.alerts import AlertRule

log = logging.getLogger("dockyard.monitor")


class Component(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Agent:
    def __init__(self, components: list[Component] | None = None) -> None:
        self.components: list[Component] = list(components or [])
        self.started: list[Component] = []
        self.stopping = threading.Event()

    def add(self, component: Component) -> None:
        self.components.append(component)

    def start(self) -> None:
        for component in self.components:
            try:
                component.start()
            except BaseException:
                self.stop()
                raise
            self.started.append(component)
            log.info("started %s", component.name)

    def stop(self) -> None:
        while self.started:
            component = self.started.pop()
            try:
                component.stop()
            except Exception:  # noqa: BLE001 - stop the others regardless
                log.exception("stopping %s failed", component.name)

    def run(self) -> None:
        """Start, wait for SIGTERM/SIGINT (or `stopping`), stop. The foreground mode."""
        previous = {sig: signal.signal(sig, lambda *_: self.stopping.set()) for sig in
                    (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not self.stopping.wait(1.0):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)


@dataclass
class AgentOptions:
    listen: str = DEFAULT_LISTEN
    interval: float = 1.0
    disk_interval: float = 60.0
    probe_interval: float = 10.0
    history_every: float = 10.0
    retention_s: float = 86400.0
    history_path: Path | None = None
    history: bool = True
    selector: dict[str, str] = field(default_factory=dict)
    rules: list[AlertRule] = field(default_factory=list)
    driver: str | None = None
    host: str | None = None


@dataclass
class MonitorAgent:
    agent: Agent
    state: MonitorState
    inventory: Inventory
    http: HttpEndpoint
    metrics: MetricsLoop


def record_lifecycle(state: MonitorState, event: AlertEvent) -> None:
    """A container that died, was OOM-killed, restarted or turned unhealthy: an event at once."""
    with state.lock:
        state.recent_events = ([event] + state.recent_events)[:500]
    if state.history is not None:
        state.history.record_events(state.host, [event])


def build_agent(engine: ReadEngine, options: AgentOptions) -> MonitorAgent:
    host = options.host or socket.gethostname()
    driver = options.driver or engine.cgroup_driver()
    history = History(options.history_path, options.retention_s) if options.history else None
    state = MonitorState(host=host, history=history)
    inventory = Inventory(engine, options.selector)
    if isinstance(engine, LocalEngine):  # the engine filters the stream: only our containers, only what counts
        local, selector = engine, dict(options.selector)
        inventory.events = lambda since: local.container_events(since, selector, EVENT_ACTIONS)
    inventory.on_lifecycle = lambda event: record_lifecycle(state, event)
    inventory.cursor = history  # a restarted agent goes on where the stream left off
    disk = DiskLoop(inventory.snapshot, interval=options.disk_interval)
    metrics = MetricsLoop(state, Collector(detect_layout(), driver=driver, host=host), inventory.snapshot,
                          disk.snapshot, options.rules, options.interval, options.history_every)
    probes = ProbeLoop(state, inventory.snapshot, options.probe_interval)
    http = HttpEndpoint(state, options.listen)
    agent = Agent([inventory, disk, metrics, probes, http])
    return MonitorAgent(agent=agent, state=state, inventory=inventory, http=http, metrics=metrics)

"""/metrics in the Prometheus text format, from the agent's latest sweep.

Labels: host, app, env, service, container (plus port/proto/kind on probe series and
kind on disk series, all bounded); nothing of unbounded cardinality beyond the container.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from dockyard.monitor.model import Probe, Sample

LABELS = ["host", "app", "env", "service", "container"]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Snapshot:
    host: str
    samples: list[Sample] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    sweep_seconds: float = 0.0
    sweep_cpu_seconds: float = 0.0
    sweeps: int = 0


# (name, help, attribute, counter?)
SERIES = [
    ("up", "1 if the container runs, 0 if it is down", "up", False),
    ("cpu_seconds", "CPU time used by the container", "cpu_seconds", True),
    ("cpu_percent", "CPU use over the last sweep, % of one core", "cpu_percent", False),
    ("cpu_throttled_seconds", "Time the container was throttled by its CPU quota", "cpu_throttled_seconds", True),
    ("memory_working_set_bytes", "Memory use minus inactive file cache (as docker stats)", "memory_bytes", False),
    ("memory_usage_bytes", "Memory charged to the cgroup, caches included", "memory_usage_bytes", False),
    ("memory_limit_bytes", "Memory limit (absent when unlimited)", "memory_limit_bytes", False),
    ("network_receive_bytes", "Bytes received on the container's interfaces", "net_rx_bytes", True),
    ("network_transmit_bytes", "Bytes sent on the container's interfaces", "net_tx_bytes", True),
    ("blkio_read_bytes", "Bytes read from block devices", "blkio_read_bytes", True),
    ("blkio_write_bytes", "Bytes written to block devices", "blkio_write_bytes", True),
    ("pids", "Processes and threads in the container", "pids", False),
    ("restarts", "Restarts seen for the container", "restarts", True),
    ("oom_kills", "Processes of the container killed for lack of memory", "oom_kills", True),
]


def _family(name: str, help_: str, counter: bool, labels: list[str]) -> GaugeMetricFamily | CounterMetricFamily:
    full = f"dockyard_container_{name}"
    if counter:
        return CounterMetricFamily(full, help_, labels=labels)
    return GaugeMetricFamily(full, help_, labels=labels)


def metric_families(snap: Snapshot) -> Iterator[Metric]:
    rows = [(s, [snap.host, s.app, s.env, s.service, s.name]) for s in snap.samples]
    for name, help_, attr, counter in SERIES:
        family = _family(name, help_, counter, LABELS)
        for s, values in rows:
            if attr != "up" and not s.up:
                continue
            value = getattr(s, attr)
            if value is not None:
                family.add_metric(values, float(value))
        yield family
    disk = GaugeMetricFamily("dockyard_container_disk_bytes",
                             "Disk used by the container: writable layer (rw) and log files (log)",
                             labels=[*LABELS, "kind"])
    for s, values in rows:
        for kind, value in (("rw", s.disk_rw_bytes), ("log", s.disk_log_bytes)):
            if value is not None:
                disk.add_metric([*values, kind], float(value))
    yield disk
    by_name = {s.name: values for s, values in rows}
    probe_up = GaugeMetricFamily("dockyard_service_probe_success",
                                 "1 if the service found in the container answered its probe from outside",
                                 labels=[*LABELS, "port", "proto", "kind"])
    latency = GaugeMetricFamily("dockyard_service_probe_duration_seconds", "How long the probe took",
                                labels=[*LABELS, "port", "proto", "kind"])
    for p in snap.probes:
        found = by_name.get(p.container)
        if found is None:
            continue
        extra = [*found, str(p.port), p.proto, p.kind]
        probe_up.add_metric(extra, 1.0 if p.ok else 0.0)
        latency.add_metric(extra, p.latency_s)
    yield probe_up
    yield latency
    agent = GaugeMetricFamily("dockyard_agent_sweep_seconds", "Wall time of the last sweep", labels=["host"])
    agent.add_metric([snap.host], snap.sweep_seconds)
    yield agent
    cpu = GaugeMetricFamily("dockyard_agent_sweep_cpu_seconds", "CPU time of the last sweep", labels=["host"])
    cpu.add_metric([snap.host], snap.sweep_cpu_seconds)
    yield cpu
    count = GaugeMetricFamily("dockyard_agent_containers", "Containers the agent follows", labels=["host"])
    count.add_metric([snap.host], float(len(snap.samples)))
    yield count


class _Collector:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def collect(self) -> Iterable[Metric]:
        return metric_families(self.snap)


class Source(Protocol):
    """More families for /metrics from another component (the edge's, from the log forwarder)."""

    def collect(self) -> Iterable[Metric]: ...


def render(snap: Snapshot, more: Sequence[Source] = ()) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(snap))  # type: ignore[arg-type]
    for source in more:
        registry.register(source)  # type: ignore[arg-type]
    return generate_latest(registry)

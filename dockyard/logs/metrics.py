"""The forwarder's counters and gauges, in Prometheus text format for the agent's /metrics."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # prometheus_client (~30 ms of imports) only when the agent's /metrics is read
    from prometheus_client.core import Metric

HELP = {
    "lines_read": ("counter", "Log lines read from json-file logs"),
    "bytes_read": ("counter", "Bytes of json-file logs read"),
    "bad_lines": ("counter", "json-file (or edge access log) lines that could not be parsed"),
    "edge_bytes_read": ("counter", "Bytes of the edge's access log read"),
    "edge_rotations": ("counter", "Times the edge was reloaded to start a new access log"),
    "lines_shipped": ("counter", "Lines a sink acknowledged"),
    "lines_rejected": ("counter", "Lines a sink refused for good (recorded)"),
    "sink_retries": ("counter", "Sends that failed and will be retried"),
    "sink_up": ("gauge", "1 when the sink's last send worked"),
    "losses": ("counter", "Recorded losses (files rotated away or removed before reading)"),
    "spool_bytes": ("gauge", "Bytes waiting in the disk spool"),
    "spool_lines": ("gauge", "Lines waiting in the disk spool"),
    "spool_full": ("gauge", "1 while the spool is full and reading is paused"),
    "spool_full_pauses": ("counter", "Times reading paused because the spool was full"),
    "containers": ("gauge", "Containers being followed"),
}


class Metrics:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, float] = defaultdict(float)
        self.per_sink: dict[tuple[str, str], float] = defaultdict(float)

    def add(self, name: str, value: float = 1, sink: str | None = None) -> None:
        with self.lock:
            if sink is None:
                self.values[name] += value
            else:
                self.per_sink[(name, sink)] += value

    def set(self, name: str, value: float, sink: str | None = None) -> None:
        with self.lock:
            if sink is None:
                self.values[name] = value
            else:
                self.per_sink[(name, sink)] = value

    def snapshot(self) -> dict[str, object]:
        with self.lock:
            out: dict[str, object] = dict(self.values)
            sinks: dict[str, dict[str, float]] = {}
            for (name, sink), value in self.per_sink.items():
                sinks.setdefault(sink, {})[name] = value
            out["sinks"] = sinks
            return out

    def collect(self, prefix: str = "dockyard_logs_") -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        """The same values as Prometheus families, for the agent's /metrics (a collector)."""
        with self.lock:
            values, per_sink = dict(self.values), dict(self.per_sink)
        for name in sorted(set(values) | {n for n, _ in per_sink}):
            kind, text = HELP.get(name, ("gauge", name))
            make = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            if name in values:  # a forwarder's own value, or one per sink
                yield make(prefix + name, text, value=values[name])
                continue
            family = make(prefix + name, text, labels=["sink"])
            for (n, sink), value in sorted(per_sink.items()):
                if n == name:
                    family.add_metric([sink], value)
            yield family

    def prometheus(self, prefix: str = "dockyard_logs_") -> str:
        with self.lock:
            lines = []
            names = sorted(set(self.values) | {n for n, _ in self.per_sink})
            for name in names:
                kind, text = HELP.get(name, ("gauge", name))
                lines += [f"# HELP {prefix}{name} {text}", f"# TYPE {prefix}{name} {kind}"]
                if name in self.values:
                    lines.append(f"{prefix}{name} {self.values[name]:g}")
                for (n, sink), value in sorted(self.per_sink.items()):
                    if n == name:
                        escaped = sink.replace("\\", "\\\\").replace('"', '\\"')
                        lines.append(f'{prefix}{name}{{sink="{escaped}"}} {value:g}')
            return "\n".join(lines) + "\n"

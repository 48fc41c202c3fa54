"""The edge's requests as Prometheus families for the agent's /metrics: apart from the access log's
parser (edge_access.py), so `dockyard logs` reads the edge's lines without prometheus_client."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable
from typing import TYPE_CHECKING

from dockyard.logs.edge_access import Access, status_class

if TYPE_CHECKING:  # prometheus_client (~30 ms of imports) only when the agent's /metrics is read
    from prometheus_client.core import Metric

# seconds: upstream latency histogram buckets (a replica answers in ms; a slow one in seconds)
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class EdgeMetrics:
    """Requests by status class and an upstream latency histogram, per environment, as Prometheus
    families for the agent's /metrics (a collector: `collect()`)."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.lock = threading.Lock()
        self.requests: dict[tuple[str, str, str], int] = {}
        self.latency: dict[tuple[str, str], tuple[list[int], float]] = {}  # counts per bucket (+Inf), sum

    def observe(self, entries: Iterable[Access]) -> None:
        with self.lock:
            for entry in entries:
                if not entry.app:
                    continue  # no environment answered: nothing of anyone's to count
                key = (entry.app, entry.env, status_class(entry.status))
                self.requests[key] = self.requests.get(key, 0) + 1
                if entry.upstream_s is not None:
                    counts, total = self.latency.get((entry.app, entry.env)) or ([0] * (len(BUCKETS) + 1), 0.0)
                    counts[bisect_left(BUCKETS, entry.upstream_s)] += 1
                    self.latency[(entry.app, entry.env)] = (counts, total + entry.upstream_s)

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        requests = CounterMetricFamily("dockyard_edge_requests", "Requests the edge answered for an environment, "
                                       "by status class", labels=["host", "app", "env", "code"])
        latency = HistogramMetricFamily("dockyard_edge_upstream_seconds", "Time the edge waited on an "
                                        "environment's replicas per request", labels=["host", "app", "env"])
        with self.lock:
            for (app, env, code), count in sorted(self.requests.items()):
                requests.add_metric([self.host, app, env, code], count)
            for (app, env), (counts, total) in sorted(self.latency.items()):
                running, buckets = 0, []
                for bound, count in zip((*(str(b) for b in BUCKETS), "+Inf"), counts, strict=True):
                    running += count
                    buckets.append((bound, float(running)))
                latency.add_metric([self.host, app, env], buckets, total)
        return [requests, latency]

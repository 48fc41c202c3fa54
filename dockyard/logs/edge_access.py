"""The host edge's access log: one JSON object per request -> an entry, a log line, metrics. Pure.

HAProxy writes each request as `{"t": accept time (s.ms), "app", "env", "host", "method", "uri",
"proto", "status", "bytes", "rt": ms the request took, "ut": ms the server took to answer, "addr",
"ua"}` (router/edge_render.ACCESS_FORMAT, strings JSON-escaped). `app`/`env` are "-" for what no
environment answered (an unknown name, an ACME challenge). `ut` is -1 when no server answered (a
redirect, the maintenance page, ...).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

# seconds: upstream latency histogram buckets (a replica answers in ms; a slow one in seconds)
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Access:
    time_ns: int
    app: str
    env: str
    status: int
    upstream_s: float | None  # None: no upstream answered (a redirect, the maintenance page, ...)
    message: str  # the line as the log store keeps it


def parse_access(raw: bytes) -> Access | None:
    """One access log line -> Access; None for a line that is not one (counted as bad, skipped)."""
    try:
        doc = orjson.loads(raw)
        status = int(doc["status"])
        time_ns = round(float(doc["t"]) * 1000) * 1_000_000
        request_s = float(doc.get("rt") or 0) / 1000
        upstream_ms = float(doc.get("ut", -1))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    upstream = upstream_ms / 1000 if upstream_ms >= 0 else None
    waited = f" (upstream {upstream * 1000:.1f}ms)" if upstream is not None else ""
    message = (f"{doc.get('method', '')} {doc.get('host', '')}{doc.get('uri', '')} {doc.get('proto', '')} "
               f"{status} {doc.get('bytes', 0)}B {request_s * 1000:.1f}ms{waited} {doc.get('addr', '')} "
               f"\"{doc.get('ua', '')}\"")
    return Access(time_ns, _named(doc.get("app")), _named(doc.get("env")), status, upstream, message)


def _named(value: object) -> str:
    """An app or environment name; HAProxy writes "-" for none."""
    return "" if value in (None, "", "-") else str(value)


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


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

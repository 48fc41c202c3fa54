"""The forwarder's counters as Prometheus families on the agent's /metrics (exact output)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from dockyard.logs.metrics import Metrics


def test_own_values_unlabelled_and_per_sink_values_by_sink() -> None:
    metrics = Metrics()
    metrics.add("edge_rotations")
    metrics.add("edge_rotations")
    metrics.add("lines_shipped", 3, sink="store")
    metrics.set("sink_up", 0, sink='loki "eu"')
    metrics.set("spool_full", 1)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)  # type: ignore[arg-type]
    samples = [line for line in generate_latest(registry).decode().splitlines() if not line.startswith("#")]
    assert samples == [
        "dockyard_logs_edge_rotations_total 2.0",
        'dockyard_logs_lines_shipped_total{sink="store"} 3.0',
        'dockyard_logs_sink_up{sink="loki \\"eu\\""} 0.0',
        "dockyard_logs_spool_full 1.0",
    ]

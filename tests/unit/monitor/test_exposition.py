from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from dockyard.monitor.exposition import Snapshot, render
from dockyard.monitor.model import Probe, Sample


def test_metrics_text_has_labels_and_values() -> None:
    up = Sample(id="a", name="shop_prod_web_1", app="shop", env="prod", service="web", cpu_seconds=1.5,
                memory_bytes=1000, memory_limit_bytes=None, disk_rw_bytes=10, disk_log_bytes=5, net_rx_bytes=7)
    down = Sample(id="b", name="shop_prod_web_2", app="shop", env="prod", service="web", up=False)
    probe = Probe("shop_prod_web_1", 8080, 32001, "tcp", "http", True, 0.002)
    text = render(Snapshot(host="h1", samples=[up, down], probes=[probe])).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    ups = {s.labels["container"]: s.value for s in families["dockyard_container_up"].samples}
    assert ups == {"shop_prod_web_1": 1.0, "shop_prod_web_2": 0.0}
    cpu = families["dockyard_container_cpu_seconds"].samples
    assert [(s.name, s.value) for s in cpu] == [("dockyard_container_cpu_seconds_total", 1.5)]
    assert cpu[0].labels == {"host": "h1", "app": "shop", "env": "prod", "service": "web",
                             "container": "shop_prod_web_1"}
    assert not families["dockyard_container_memory_limit_bytes"].samples  # unlimited: no series
    disk = {s.labels["kind"]: s.value for s in families["dockyard_container_disk_bytes"].samples}
    assert disk == {"rw": 10.0, "log": 5.0}
    probe_sample = families["dockyard_service_probe_success"].samples[0]
    assert probe_sample.labels["port"] == "8080" and probe_sample.labels["kind"] == "http"

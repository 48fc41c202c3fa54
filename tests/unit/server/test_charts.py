from __future__ import annotations

from dockyard.server.web.charts import METRICS, Metric, bucketed, by_container, human, legend, svg

CPU = Metric("cpu_percent", "CPU", "%")
RX = Metric("net_rx_bytes", "network in", "B/s", counter=True)


def rows() -> list[dict]:
    return [
        {"at": 100.0, "container": "a", "up": 1, "cpu_percent": 10.0, "net_rx_bytes": 1000},
        {"at": 101.0, "container": "a", "up": 1, "cpu_percent": 30.0, "net_rx_bytes": 3000},
        {"at": 102.0, "container": "a", "up": 1, "cpu_percent": 20.0, "net_rx_bytes": 500},  # restarted
        {"at": 103.0, "container": "a", "up": 1, "cpu_percent": 20.0, "net_rx_bytes": 1500},
        {"at": 100.5, "container": "b", "up": 0, "cpu_percent": 99.0, "net_rx_bytes": 0},  # down: not drawn
        {"at": 101.5, "container": "b", "up": 1, "cpu_percent": None, "net_rx_bytes": 10},
    ]


def test_gauges_as_sampled_and_counters_as_rates_that_survive_a_restart() -> None:
    assert by_container(rows(), CPU) == {"a": [(100.0, 10.0), (101.0, 30.0), (102.0, 20.0), (103.0, 20.0)]}
    assert by_container(rows(), RX) == {"a": [(101.0, 2000.0), (103.0, 1000.0)], "b": []}


def test_points_are_averaged_into_buckets() -> None:
    points = [(0.0, 1.0), (0.4, 3.0), (5.0, 10.0), (9.99, 4.0), (10.0, 6.0), (11.0, 99.0)]
    assert bucketed(points, 0.0, 10.0, buckets=2) == [(2.5, 2.0), (7.5, 20 / 3)]
    assert bucketed(points, 5.0, 5.0) == []


def test_an_svg_line_per_container_scaled_to_the_top_value() -> None:
    series = {"b": [(0.0, 0.0)], "a": [(0.0, 50.0), (10.0, 100.0)], "empty": []}
    drawn = svg(series, CPU, 0.0, 10.0)
    assert drawn.startswith('<svg class="chart" viewBox="0 0 600 150" role="img" aria-label="CPU in %, top 100%">')
    # buckets of 10/120 s: the two points land in the first and the last bucket, 110% is the top of a
    # plot from x 110 to 588 and y 14 to 118
    assert '<polyline fill="none" stroke="#1f5fbf" stroke-width="1.5" points="112.0,70.7 586.0,23.5">' \
           '<title>a</title></polyline>' in drawn
    # axes: the value in its unit at 0, half and the top; the time in UTC at start, middle and end
    assert [t.split(">")[1] for t in drawn.split("<text")[1:]] == ["0.0%</text", "55%</text", "110%</text",
                                                                   "00:00</text", "00:00</text", "00:00 UTC</text"]
    assert drawn.count("<polyline") == 2 and "<title>empty</title>" not in drawn
    assert legend(series) == [("a", 0), ("b", 1), ("empty", 2)]
    hostile = svg({'<script>"x': [(1.0, 1.0)]}, CPU, 0.0, 10.0)
    assert "<script>" not in hostile and "&lt;script&gt;&quot;x" in hostile


def test_values_read_like_a_person_would_write_them() -> None:
    assert [human(v, "B") for v in (512, 2048, 5.5 * 1024 * 1024, 3 * 1024**3)] == ["512 B", "2.0 KiB", "5.5 MiB",
                                                                                       "3.0 GiB"]
    assert human(7.25, "%") == "7.2%" and human(63.0, "%") == "63%" and human(150 * 1024, "B/s") == "150 KiB/s"
    assert [m.key for m in METRICS if m.counter] == ["net_rx_bytes", "net_tx_bytes", "blkio_write_bytes"]

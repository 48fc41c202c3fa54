"""Per-container charts from the agent's history, drawn on the server as SVG (pure).

No chart library and no script: a line per container in a viewBox that scales to any width, with
a value axis in the metric's unit and a time axis in UTC. Counters (network, block I/O) are drawn
as rates per second; gauges (CPU, memory, disk) as they were sampled. Points are averaged into at
most BUCKETS buckets, so a day of samples draws as fast as an hour.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape

BUCKETS = 120
WIDTH, HEIGHT = 600, 150
COLOURS = ("#1f5fbf", "#c4320a", "#1a7f37", "#9a6700", "#8250df", "#0a7ea4", "#bf3989", "#57606a")


@dataclass(frozen=True)
class Metric:
    key: str
    title: str
    unit: str  # %, B, B/s
    counter: bool = False


METRICS = (
    Metric("cpu_percent", "CPU", "%"),
    Metric("memory_bytes", "memory", "B"),
    Metric("net_rx_bytes", "network in", "B/s", counter=True),
    Metric("net_tx_bytes", "network out", "B/s", counter=True),
    Metric("blkio_write_bytes", "disk writes", "B/s", counter=True),
    Metric("disk_bytes", "disk used", "B"),
)

Point = tuple[float, float]


def by_container(rows: Iterable[dict], metric: Metric) -> dict[str, list[Point]]:
    """container -> its (time, value) points, in time order; a counter becomes a rate per second
    (a counter that went down, a restarted container, starts again from that sample)."""
    raw: dict[str, list[Point]] = defaultdict(list)
    for row in rows:
        value = row.get(metric.key)
        if value is not None and row.get("up", 1):
            raw[str(row["container"])].append((float(row["at"]), float(value)))
    if not metric.counter:
        return {name: sorted(points) for name, points in raw.items()}
    rates: dict[str, list[Point]] = {}
    for name, points in raw.items():
        points.sort()
        rates[name] = [(t1, (v1 - v0) / (t1 - t0)) for (t0, v0), (t1, v1) in zip(points, points[1:], strict=False)
                       if t1 > t0 and v1 >= v0]
    return rates


def bucketed(points: list[Point], start: float, end: float, buckets: int = BUCKETS) -> list[Point]:
    """The average of the points in each of `buckets` equal slices of [start, end] (empty ones left out)."""
    if end <= start:
        return []
    width = (end - start) / buckets
    sums: dict[int, tuple[float, int]] = {}
    for at, value in points:
        if start <= at <= end:
            index = min(int((at - start) / width), buckets - 1)
            total, count = sums.get(index, (0.0, 0))
            sums[index] = (total + value, count + 1)
    return [(start + (i + 0.5) * width, total / count) for i, (total, count) in sorted(sums.items())]


def human(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.0f}%" if value >= 10 else f"{value:.1f}%" if value >= 1 or value == 0 else f"{value:.2f}%"
    for prefix in ("", "Ki", "Mi", "Gi"):
        if abs(value) < 1024 or prefix == "Gi":
            whole = value >= 100 or (prefix == "" and (value >= 10 or value == int(value)))
            number = f"{value:.0f}" if whole else f"{value:.1f}"
            return f"{number} {prefix}{unit}"
        value /= 1024
    raise AssertionError("unreachable")


# the plot inside the chart: room on the left for the value axis' labels, below for the time axis'
LEFT, BOTTOM, TOP, RIGHT = 110, 32, 14, 12


def clock(stamp: float) -> str:
    return time.strftime("%H:%M", time.gmtime(stamp))


def svg(series: dict[str, list[Point]], metric: Metric, start: float, end: float) -> str:
    """One chart: a polyline per container over [start, end], scaled to the highest value, with a
    value axis (0, half, top, in the metric's unit) and a time axis (start, middle, end, UTC)."""
    lines = {name: bucketed(points, start, end) for name, points in sorted(series.items())}
    top = max((v for points in lines.values() for _, v in points), default=0.0)
    scale = top * 1.1 or 1.0
    span = end - start
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    base = TOP + plot_h

    def x(at: float) -> float:
        return LEFT + (at - start) / span * plot_w

    def y(value: float) -> float:
        return base - value / scale * plot_h

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(metric.title)} in {escape(metric.unit)}, top {escape(human(top, metric.unit))}">',
             f'<line x1="{LEFT}" y1="{base + 0.5}" x2="{WIDTH - RIGHT}" y2="{base + 0.5}" class="axis"/>',
             f'<line x1="{LEFT - 0.5}" y1="{TOP}" x2="{LEFT - 0.5}" y2="{base}" class="axis"/>']
    for value in (0.0, scale / 2, scale):
        parts.append(f'<line x1="{LEFT}" y1="{y(value):.1f}" x2="{WIDTH - RIGHT}" y2="{y(value):.1f}" class="grid"/>'
                     f'<text x="{LEFT - 8}" y="{y(value) + 7:.1f}" class="tick" text-anchor="end">'
                     f'{escape(human(value, metric.unit))}</text>')
    for at, anchor in ((start, "start"), (start + span / 2, "middle"), (end, "end")):
        parts.append(f'<text x="{x(at):.1f}" y="{HEIGHT - 6}" class="tick" text-anchor="{anchor}">'
                     f'{clock(at)}{" UTC" if anchor == "end" else ""}</text>')
    for n, (name, points) in enumerate(lines.items()):
        if not points:
            continue
        coords = " ".join(f"{x(at):.1f},{y(value):.1f}" for at, value in points)
        parts.append(f'<polyline fill="none" stroke="{COLOURS[n % len(COLOURS)]}" stroke-width="1.5" '
                     f'points="{coords}"><title>{escape(name)}</title></polyline>')
    parts.append("</svg>")
    return "".join(parts)


def legend(series: dict[str, list[Point]]) -> list[tuple[str, int]]:
    """(container, the index of its colour) in the order svg() draws them (the page's CSS has a
    class per colour: no inline style, which its Content-Security-Policy forbids)."""
    return [(name, n % len(COLOURS)) for n, name in enumerate(sorted(series))]


def top_value(series: dict[str, list[Point]], metric: Metric, start: float, end: float) -> str:
    values = [v for points in series.values() for _, v in bucketed(points, start, end)]
    return human(max(values, default=0.0), metric.unit)

"""The agent's history keeps a day: the last hour as sampled, older samples one per container per
5 minutes with the bucket's mean CPU and highest memory."""

from __future__ import annotations

from pathlib import Path

from dockyard.monitor.history import History
from dockyard.monitor.model import Sample

START = 1_800_000_000.0  # a whole 5-minute bucket
EVERY = 10.0


def sweep(at: float) -> list[Sample]:
    n = int((at - START) // EVERY)
    return [Sample(id=name, name=name, app="shop", env="prod", service="web", at=at, cpu_percent=float(n % 30),
                   memory_bytes=1000 + n % 30, net_rx_bytes=n * 100)
            for name in ("shop_prod_web_1", "shop_prod_web_2")]


def test_a_day_is_kept_the_last_hour_as_sampled_and_older_hours_thinned(tmp_path: Path) -> None:
    history = History(tmp_path / "monitor.db")
    hours = 3
    for n in range(int(hours * 3600 / EVERY)):
        at = START + n * EVERY
        history.record("h", sweep(at), now=at)
    now = START + hours * 3600 - EVERY
    rows = history.samples(START - 1, container="shop_prod_web_1")
    cut = (now - 3600) // 300 * 300  # thinned in whole 5-minute buckets: up to the one the hour's edge is in
    recent = [r["at"] for r in rows if r["at"] >= cut]
    older = [r for r in rows if r["at"] < cut]
    assert recent == [cut + n * EVERY for n in range(int((now - cut) / EVERY) + 1)]  # every sample since
    assert [r["at"] for r in older] == [START + n * 300 for n in range(int((cut - START) / 300))]
    first = older[0]
    assert first["at"] == START
    assert first["cpu_percent"] == sum(range(30)) / 30  # the bucket's 30 samples: 0..29
    assert first["memory_bytes"] == 1029
    assert first["net_rx_bytes"] == 0  # a counter as it was at the kept sample
    assert len(history.samples(START - 1)) == 2 * len(rows)  # the other container alike


def test_samples_past_the_day_go_and_a_full_answer_is_the_newest(tmp_path: Path) -> None:
    history = History(tmp_path / "monitor.db")
    history.record("h", sweep(START), now=START)
    history.record("h", sweep(START + 86400), now=START + 86401)  # the first is over a day old now
    assert [r["at"] for r in history.samples(0, container="shop_prod_web_1")] == [START + 86400]
    for n in range(1, 6):
        history.record("h", sweep(START + 86400 + n * EVERY), now=START + 86400 + n * EVERY)
    newest = history.samples(0, container="shop_prod_web_1", limit=3)
    assert [r["at"] for r in newest] == [START + 86400 + n * EVERY for n in (3, 4, 5)]


def test_a_small_page_cache_and_commits_synced_at_checkpoints(tmp_path: Path) -> None:
    """The agent runs for the host's whole life: its history's cache stays small (issue 30)."""
    from dockyard.monitor.history import CACHE_KIB

    history = History(tmp_path / "monitor.db")
    assert history.conn.execute("pragma cache_size").fetchone()[0] == -CACHE_KIB == -256
    assert history.conn.execute("pragma synchronous").fetchone()[0] == 1  # NORMAL
    history.close()

"""The store by blocks: searches against a brute-force reading of every line, the lazy full-text
index, and the `lines` view."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from dockyard.logs.query import Query, newer, search
from dockyard.logs.spool import Batch
from dockyard.logs.store import LogStore, StoreBusy

WORDS = ["alpha", "beta", "gamma", "needle", "timeout", "x_y", "Über"]


def tags(n: int) -> dict[str, str]:
    return {"container": f"web-{n}", "host": "h", "app": "shop", "env": "prod", "service": ["web", "worker"][n % 2],
            "release": "r1"}


def fill(store: LogStore, rng: random.Random) -> list[tuple[int, int, str, str]]:
    """Random lines of 3 containers over several writes; (ts, id, message, service) of each, by id."""
    offsets = [0, 0, 0]
    for _ in range(6):
        batches = []
        for n in rng.sample(range(3), 3):
            count = rng.randrange(1, 1500)
            lines = []
            for _ in range(count):
                offsets[n] += rng.randrange(1, 50)
                msg = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 4))) + f" {rng.randrange(10**6)}"
                lines.append((offsets[n], rng.randrange(10**9, 2 * 10**9), rng.randrange(2), msg))
            batches.append(Batch(f"{n:064x}", "f", tags(n), lines))
        store.write(batches)
    return [(line.time_ns, line.id, line.message, line.service) for line in newer(store, Query(limit=10**6), 0, 10**6)]


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_searches_give_what_reading_every_line_gives(tmp_path: Path, lazy: bool, seed: int) -> None:
    rng = random.Random(seed)
    store = LogStore(tmp_path / "store.db", lazy_index=lazy)
    every = fill(store, rng)
    assert [i for _, i, _, _ in every] == list(range(1, len(every) + 1))
    for _ in range(12):
        limit = rng.choice([1, 5, 20, 500])
        since = rng.choice([None, 1_500_000_000, 1_900_000_000])
        grep = rng.choice([None, "needle", "gamma 1", "Ti", "eedle"])
        service = rng.choice([None, "worker"])
        q = Query(service=service, since_ns=since, grep=grep, limit=limit)
        expected = sorted((t for t in every if (since is None or t[0] >= since) and (service is None or t[3] == service)
                           and (grep is None or (grep in t[2] and grep != "eedle"))), reverse=True)[:limit]
        assert [(line.time_ns, line.id) for line in search(store, q)] == [(t[0], t[1]) for t in expected]
        after = rng.randrange(len(every))
        taken = [line.id for line in newer(store, q, after, limit)]
        assert taken == [t[1] for t in every if t[1] > after and (since is None or t[0] >= since) and (
            service is None or t[3] == service) and (grep is None or (grep in t[2] and grep != "eedle"))][:limit]


def test_a_lazy_store_is_searched_before_and_after_its_index_is_built(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "store.db", lazy_index=True)
    store.write([Batch("a" * 64, "f", tags(0), [(i, 10 + i, 0, f"hay {i}") for i in range(3000)] +
                       [(5000, 9_000, 0, "the needle, here"), (5001, 9_001, 0, "pinneedles and pin_needles")])])
    assert store.unindexed > 0 and store.db.execute("select upto from indexed").fetchone() == (0,)
    before = [line.message for line in search(store, Query(grep="needle"))]
    # a word's start, as the index has it ("_" separates words, as in the index's tokenizer)
    assert before == ["pinneedles and pin_needles", "the needle, here"]
    assert [line.message for line in search(store, Query(grep="needles"))] == ["pinneedles and pin_needles"]
    assert search(store, Query(grep="eedle")) == []
    while store.index(1 << 10):
        pass
    assert store.unindexed == 0
    assert store.db.execute("select upto from indexed").fetchone()[0] == \
        store.db.execute("select max(id) from blocks").fetchone()[0]
    assert [line.message for line in search(store, Query(grep="needle"))] == before
    reopened = LogStore(tmp_path / "store.db", lazy_index=True)
    assert reopened.unindexed == 0 and reopened.index() == 0


def test_a_store_that_indexes_as_it_writes_has_nothing_left_to_index(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "store.db")
    store.write([Batch("a" * 64, "f", tags(0), [(0, 1, 0, "one")])])
    assert store.unindexed == 0 and store.index() == 0


def test_the_lines_view_reads_messages_by_line_id(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "store.db")
    store.write([Batch("a" * 64, "f", tags(0), [(0, 1, 0, "one"), (5, 2, 1, 'two "quoted"\n')]),
                 Batch("b" * 64, "f", tags(1), [(0, 3, 0, "three")])])
    assert store.db.execute("select id, c, msg from lines order by id").fetchall() == [
        (1, 1, "one"), (2, 1, 'two "quoted"\n'), (3, 2, "three")]


@pytest.mark.parametrize("lazy", [False, True])
def test_an_existing_store_opens_while_another_process_holds_its_write_lock(tmp_path: Path, lazy: bool) -> None:
    LogStore(tmp_path / "store.db").write([Batch("a" * 64, "f", tags(0), [(0, 1, 0, "one")])])
    locker = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    locker.execute("begin exclusive")
    try:
        store = LogStore(tmp_path / "store.db", busy_timeout=0.05, lazy_index=lazy)  # a forwarder restarted
        assert [line.message for line in search(store, Query())] == ["one"]
    finally:
        locker.execute("commit")


def test_lines_of_one_time_come_newest_id_first_across_blocks(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "store.db")
    store.write([Batch("a" * 64, "f", tags(0), [(i, 5, 0, f"a{i}") for i in range(1500)]),
                 Batch("b" * 64, "f", tags(1), [(i, 5, 0, f"b{i}") for i in range(10)])])
    assert [line.message for line in search(store, Query(limit=3))] == ["b9", "b8", "b7"]
    assert [line.message for line in search(store, Query(limit=12))][-2:] == ["a1499", "a1498"]
    assert [line.message for line in search(store, Query(limit=3, grep="a"))] == ["a1499", "a1498", "a1497"]


def test_follow_gives_each_new_line_once_in_order_as_blocks_arrive(tmp_path: Path) -> None:
    import threading
    import time

    from dockyard.logs.query import follow, last_id

    store = LogStore(tmp_path / "store.db", lazy_index=True)
    store.write([Batch("a" * 64, "f", tags(0), [(0, 1, 0, "before")])])
    start = last_id(LogStore(tmp_path / "store.db", readonly=True))

    def write() -> None:
        for n in range(1, 6):
            time.sleep(0.1)
            store.write([Batch("a" * 64, "f", tags(0), [(n * 10 + i, n, 0, f"m{n}.{i}") for i in range(3)]),
                         Batch("b" * 64, "f", tags(1), [(n, n, 1, f"other{n}")])])

    writer = threading.Thread(target=write)
    writer.start()
    reader = LogStore(tmp_path / "store.db", readonly=True)
    got = [line.message for line in follow(reader, Query(service="web", grep="m"), start, interval=0.05,
                                           until=time.monotonic() + 1.5)]
    writer.join()
    assert got == [f"m{n}.{i}" for n in range(1, 6) for i in range(3)]


def long_lines(rng: random.Random, start: int, count: int) -> list[tuple[int, int, int, str]]:
    """Lines of 150+ characters (their blocks' documents are made as they are written, LogStore.docs_kept)."""
    return [(start + i, 10**9 + start + i, 0, " ".join(rng.choice(WORDS) for _ in range(25)) + f" n{start + i}")
            for i in range(count)]


def terms(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    db.execute("create virtual table temp.v using fts5vocab(main, blocks_fts, row)")
    return {term for (term,) in db.execute("select term from temp.v")}


def test_a_lazy_store_indexes_long_lines_from_the_documents_kept_at_writing_the_same_words(tmp_path: Path) -> None:
    rng = random.Random(5)
    writes = [long_lines(rng, n * 1000, rng.randrange(100, 900)) for n in range(4)]
    lazy, eager = LogStore(tmp_path / "lazy.db", lazy_index=True), LogStore(tmp_path / "eager.db")
    for lines in writes:
        lazy.write([Batch("a" * 64, "f", tags(0), lines)])
        eager.write([Batch("a" * 64, "f", tags(0), lines)])
    assert lazy._docs and lazy.db.execute("select upto from indexed").fetchone() == (0,)
    assert eager._docs == {} and eager.docs_kept == 0  # (an eager store indexes as it writes)
    assert LogStore(tmp_path / "agent.db", lazy_index=True, cache_kib=4096).docs_kept == 1 << 20
    while lazy.index(1 << 12):
        pass
    assert lazy._docs == {} and lazy._docs_size == 0 and lazy.unindexed == 0
    assert terms(tmp_path / "lazy.db") == terms(tmp_path / "eager.db")
    for word in ["needle", "n1234", "Über", "n3010"]:
        assert search(lazy, Query(grep=word, limit=10**6)) == search(eager, Query(grep=word, limit=10**6))


def test_documents_of_a_rolled_back_write_are_not_kept(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "store.db", busy_timeout=0.05, lazy_index=True)
    locker = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    locker.execute("begin exclusive")
    try:
        with pytest.raises(StoreBusy):
            store.write([Batch("a" * 64, "f", tags(0), long_lines(random.Random(1), 0, 300))])
    finally:
        locker.execute("commit")
    assert store._docs == {}
    store.write([Batch("a" * 64, "f", tags(0), long_lines(random.Random(2), 0, 300))])
    while store.index(1 << 12):
        pass
    assert search(store, Query(grep="n299")) and not search(store, Query(grep="needle n0 n1"))


def test_documents_of_blocks_another_writer_indexed_are_let_go(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "store.db", lazy_index=True)
    store.docs_kept = 1 << 12
    rng = random.Random(3)
    store.write([Batch("a" * 64, "f", tags(0), long_lines(rng, 0, 400))])
    assert store._docs_size >= 1 << 12
    LogStore(tmp_path / "store.db")  # indexes what it finds unindexed
    store.write([Batch("a" * 64, "f", tags(0), long_lines(rng, 1000, 50))])  # the documents are full: not kept
    while store.index(1 << 12):
        pass
    assert store._docs == {} and store._docs_size == 0
    assert len(search(store, Query(grep="n1049", limit=10))) == 1


def test_messages_are_stored_as_text_and_counted_in_characters(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "store.db", lazy_index=True)
    lines = [(i, 10 + i, 0, f"été 日本 {i} " + "x" * (i % 300)) for i in range(700)]
    store.write([Batch("a" * 64, "f", tags(0), lines)])
    kinds = {kind for (kind,) in store.db.execute("select typeof(msgs) from blocks")}
    assert kinds == {"text"}
    assert store.unindexed == store.db.execute("select sum(length(msgs)) from blocks").fetchone()[0]
    reopened = LogStore(tmp_path / "store.db", lazy_index=True)
    assert reopened.unindexed == store.unindexed
    while store.index(1 << 12):
        pass
    assert store.unindexed == 0 and [line.message for line in search(store, Query(grep="日本 699"))] == [
        "été 日本 699 " + "x" * 99]

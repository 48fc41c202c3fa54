"""Direct mode (lines + positions in one store transaction), switching modes, the block index."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dockyard.logs.blocks import BLOCK_LINES as BLOCK
from dockyard.logs.blocks import decode
from dockyard.logs.direct import StoreJournal, hand_back_positions, take_over_spool
from dockyard.logs.jsonfile import parse_time
from dockyard.logs.query import Query, search
from dockyard.logs.spool import Append, Batch, Spool
from dockyard.logs.store import LogStore
from dockyard.logs.tailer import Loss, Position

CID = "d" * 64
TAGS = {"container": "web-1", "host": "h", "app": "shop", "env": "prod", "service": "web", "release": "r1"}


def stored(store: LogStore) -> list[tuple[int, int, int, int, str]]:
    """(id, container row, time, stream, message) of every stored line, in id order."""
    out = []
    for first, c, streams, times, msgs in store.rows("select id, c, streams, times, msgs from blocks order by id"):
        lines = decode(first, streams, times, msgs)
        out += [(i, c, ts, stream, msg) for i, ts, stream, msg in lines]
    return out


def batch(file: str, *offsets: int) -> Batch:
    return Batch(CID, file, TAGS, [(o, 1_000 + o, 0, f"line {o}") for o in offsets])


def test_lines_and_positions_commit_together_and_a_replay_stores_nothing_twice(tmp_path: Path) -> None:
    journal = StoreJournal(LogStore(tmp_path / "store.db"))
    assert journal.append([Append(CID, Position("f1", 30), batch("f1", 0, 10, 20))]) == 3
    assert journal.positions() == {CID: Position("f1", 30)}
    assert journal.append([Append(CID, Position("f1", 40), batch("f1", 10, 20, 30))]) == 1  # a replay
    journal.record_loss(Loss(CID, "gone"))
    journal.forget(CID)
    assert journal.positions() == {}
    db = journal.store.db
    assert len(stored(journal.store)) == 4
    assert db.execute("select what from losses").fetchall() == [("gone",)]


def test_a_locked_store_takes_neither_lines_nor_positions(tmp_path: Path) -> None:
    journal = StoreJournal(LogStore(tmp_path / "store.db", busy_timeout=0.05))
    locker = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    locker.execute("begin exclusive")
    try:
        journal.append([Append(CID, Position("f1", 10), batch("f1", 0))])
        raise AssertionError("a locked store must raise Retryable")
    except Exception as exc:  # noqa: BLE001
        assert type(exc).__name__ == "Retryable"
    locker.execute("commit")
    assert journal.positions() == {} and journal.append([Append(CID, Position("f1", 10), batch("f1", 0))]) == 1


def test_switching_to_direct_ships_the_spool_first_and_moves_positions(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", ["store"])
    spool.append([Append(CID, Position("f1", 30), batch("f1", 0, 10, 20))])
    spool.close()
    store = LogStore(tmp_path / "store.db")
    assert take_over_spool(tmp_path / "spool.db", store) == 3
    assert take_over_spool(tmp_path / "spool.db", store) == 0  # idempotent
    assert StoreJournal(store).positions() == {CID: Position("f1", 30)}
    again = Spool(tmp_path / "spool.db", ["store"])
    assert again.positions() == {} and again.stats().lines == 0
    hand_back_positions(tmp_path / "store.db", again)  # and back to the spool
    assert again.positions() == {CID: Position("f1", 30)} and StoreJournal(store).positions() == {}


def test_search_finds_lines_through_the_block_index(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "store.db")
    lines = [(o, 1_000 + o, 0, "needle here" if o == BLOCK + 5 else f"hay {o}") for o in range(3 * BLOCK)]
    store.write([Batch(CID, "f1", TAGS, lines)])
    found = search(store, Query(grep="needle", limit=10))
    assert [line.message for line in found] == ["needle here"]
    assert store.db.execute("select count(*) from blocks").fetchone()[0] == 3
    assert search(store, Query(grep="eedle", limit=10)) == []  # words, not substrings


def test_a_store_of_a_row_per_line_is_converted_to_blocks(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("""
        create table lines(id integer primary key, c integer not null, ts integer not null, stream integer not null,
            msg text not null);
        create virtual table lines_fts using fts5(msg, content='lines', content_rowid='id', detail=none);
        insert into lines(c, ts, stream, msg) values (1, 5, 0, 'old timeout line');
        insert into lines_fts(rowid, msg) select id, msg from lines;
    """)
    db.close()
    store = LogStore(path)
    store.write([Batch(CID, "f1", TAGS, [(0, 10, 0, "new timeout line")])])
    # the old line belongs to container 1, which the new write created
    assert [line.message for line in search(store, Query(grep="timeout"))] == ["new timeout line", "old timeout line"]
    assert store.db.execute("select count(*) from blocks").fetchone()[0] == 2
    old = "select count(*) from sqlite_master where type = 'table' and name in ('lines', 'lines_fts')"
    assert store.db.execute(old).fetchone() == (0,)


def test_parse_time_fast_path_agrees_with_the_general_one() -> None:
    assert parse_time("2026-11-25T19:29:17.54085324Z") == parse_time("2026-11-25T19:29:17.540853240Z")
    assert parse_time("2026-11-25T19:29:17.5Z") - parse_time("2026-11-25T19:29:17Z") == 500_000_000
    assert parse_time("2026-11-25T21:29:17.5+02:00") == parse_time("2026-11-25T19:29:17.5Z")


def test_a_scope_keeps_one_release_s_lines_or_those_containers(tmp_path: Path) -> None:
    from dockyard.engine.rows import Scope

    store = LogStore(tmp_path / "store.db")
    old = {**TAGS, "container": "web-blue-1", "release": "r1"}
    new = {**TAGS, "container": "web-green-1", "release": "r2"}
    store.write([Batch("a" * 64, "f1", old, [(0, 1_000, 0, "from r1")]),
                 Batch("b" * 64, "f2", new, [(0, 2_000, 0, "from r2")])])

    def messages(scope: Scope) -> list[str]:
        return [line.message for line in search(store, Query(scope=scope))]

    assert messages(Scope()) == ["from r2", "from r1"]
    assert messages(Scope(release="r2")) == ["from r2"]
    assert messages(Scope(names=frozenset({"web-blue-1"}))) == ["from r1"]
    assert messages(Scope(names=frozenset())) == []
    store.write([Batch("c" * 64, "f3", {**TAGS, "container": "db", "release": ""}, [(0, 3_000, 0, "from db")])])
    assert messages(Scope(release="r2")) == ["from db", "from r2"]  # an accessory has no release: always in


def test_block_text_follows_line_ids_across_batches_containers_and_a_replayed_head(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "store.db")
    store.write([Batch(CID, "f1", TAGS, [(o, 1, 0, f"old{o}z") for o in range(10)])])
    other = {**TAGS, "container": "web-2"}
    replayed = [(o, 1, 0, f"a{o}z") for o in range(5, BLOCK)]  # 5..9 are stored already: cut
    second = [(o, 1, 1, f"b{o}z") for o in range(BLOCK + 7)]
    assert store.write([Batch(CID, "f1", TAGS, replayed), Batch("e" * 64, "f2", other, second)]) == 2 * BLOCK - 3
    ids = {msg: i for i, _, _, _, msg in stored(store)}
    for word in ("old0z", "a10z", f"a{BLOCK - 1}z", "b0z", f"b{BLOCK - 1}z", f"b{BLOCK + 6}z"):
        (found,) = search(store, Query(grep=word, limit=5))
        assert found.message == word and found.id == ids[word]
    blocks = store.db.execute("select id, last from blocks order by id").fetchall()
    assert blocks == [(1, 10), (11, BLOCK), (BLOCK + 1, 2 * BLOCK), (2 * BLOCK + 1, 2 * BLOCK + 7)]
    by_id = {i: msg for i, _, _, _, msg in stored(store)}
    for first, last in blocks:  # each block's document is its lines' text
        for word in (by_id[first], by_id[last]):
            hits = store.db.execute("select rowid from blocks_fts where blocks_fts match ?", (f'"{word}"',)).fetchall()
            assert hits == [(first,)]


def test_lines_are_stored_in_order_with_their_times_and_streams(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "store.db")
    count = 2 * BLOCK + 5
    lines = [(o, 1_000_000 + o, o % 2, f"m{o}") for o in range(count)]
    assert store.write([Batch(CID, "f1", TAGS, lines[:BLOCK - 1]), Batch(CID, "f1", TAGS, lines)]) == count
    assert [row[1:] for row in stored(store)] == [(1, ts, stream, msg) for _, ts, stream, msg in lines]

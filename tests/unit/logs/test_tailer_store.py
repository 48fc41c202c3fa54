"""Tailer on a folder laid out like Docker's, rotated by hand; the spool and the store's de-duplication."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from dockyard.logs.spool import Append, Batch, Spool
from dockyard.logs.store import LogStore
from dockyard.logs.tailer import Loss, Position, Tailer

CID = "c" * 64


def write(path: Path, *messages: str) -> None:
    with path.open("ab") as fh:
        for i, m in enumerate(messages):
            fh.write(orjson.dumps({"log": m + "\n", "stream": "stdout",
                                   "time": f"2026-01-01T00:00:{i % 60:02d}.1Z"}) + b"\n")


def rotate(folder: Path, keep: int) -> None:
    base = folder / f"{CID}-json.log"
    for n in range(keep - 1, 0, -1):
        src = Path(f"{base}.{n}")
        if src.exists():
            if n + 1 >= keep:
                src.unlink()
            else:
                src.rename(f"{base}.{n + 1}")
    base.rename(f"{base}.1")
    base.touch()


def drain(tailer: Tailer) -> list[str]:
    out: list[str] = []
    while True:
        tailer.refresh()
        read = tailer.read()
        if read is None:
            return out
        out += [line[3] for line in read.lines]


def test_follows_rotation_and_reads_a_rotated_away_file_to_its_end(tmp_path: Path) -> None:
    losses: list[Loss] = []
    log = tmp_path / f"{CID}-json.log"
    write(log, "1", "2")
    tailer = Tailer(CID, tmp_path, None, losses.append)
    assert drain(tailer) == ["1", "2"]
    write(log, "3")
    rotate(tmp_path, keep=2)  # "3" unread, file renamed to .1
    tailer.refresh()
    write(log, "4")
    rotate(tmp_path, keep=2)  # the file holding "3" is deleted: still open, still read
    write(log, "5")
    assert drain(tailer) == ["3", "4", "5"]
    assert losses == []


def test_resumes_from_a_saved_position_in_a_rotated_file(tmp_path: Path) -> None:
    log = tmp_path / f"{CID}-json.log"
    write(log, "1", "2")
    first = Tailer(CID, tmp_path, None, lambda loss: None)
    read = first.read()
    assert read is not None and read.position is not None
    first.close()
    write(log, "3")
    rotate(tmp_path, keep=3)
    write(log, "4")
    again = Tailer(CID, tmp_path, Position(read.position.file, read.position.offset), lambda loss: None)
    assert drain(again) == ["3", "4"]


def test_a_saved_file_that_is_gone_is_reported_as_a_loss(tmp_path: Path) -> None:
    losses: list[Loss] = []
    write(tmp_path / f"{CID}-json.log", "new")
    tailer = Tailer(CID, tmp_path, Position("ffff:00000000", 10), losses.append)
    assert drain(tailer) == ["new"]
    assert len(losses) == 1 and "rotated away" in losses[0].what


def test_container_removed_with_unread_lines_still_gives_them(tmp_path: Path) -> None:
    folder = tmp_path / CID
    folder.mkdir()
    write(folder / f"{CID}-json.log", "a", "b")
    tailer = Tailer(CID, folder, None, lambda loss: None)
    tailer.refresh()
    (folder / f"{CID}-json.log").unlink()
    os.rmdir(folder)
    tailer.refresh()
    assert tailer.removed and drain(tailer) == ["a", "b"]


def batch(file: str, *offsets: int, cid: str = CID) -> Batch:
    return Batch(cid, file, {"container": "web-1", "host": "h", "app": "shop", "env": "prod", "service": "web",
                             "release": "r1"}, [(o, 1_000 + o, 0, f"line {o}") for o in offsets])


def test_store_keeps_a_replayed_line_once(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "store.db")
    assert store.write([batch("f1", 0, 10, 20)]) == 3
    assert store.write([batch("f1", 10, 20, 30), batch("f2", 0)]) == 2  # replay after a crash + new lines
    reopened = LogStore(tmp_path / "store.db")
    assert reopened.write([batch("f1", 0, 30)]) == 0
    assert reopened.db.execute("select count(*) from lines").fetchone()[0] == 5


def test_spool_commits_positions_with_lines_and_deletes_what_every_sink_acked(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", ["a", "b"], max_bytes=10_000)
    spool.append([Append(CID, Position("f1", 30), batch("f1", 0, 10, 20))])
    spool.append([Append(CID, Position("f1", 40), batch("f1", 30))])
    assert spool.positions() == {CID: Position("f1", 40)}
    first = spool.next("a")
    assert [len(b.lines) for b in first] == [3, 1]
    spool.ack("a", first[-1].id)
    assert spool.stats().lines == 4  # b has not acknowledged yet
    spool.ack("b", first[-1].id)
    assert spool.stats().lines == 0 and spool.next("a") == []
    spool.append([Append(CID, Position("f1", 50), batch("f1", 40))])  # ids keep growing after deletes
    assert [b.lines[0][0] for b in spool.next("a")] == [40]

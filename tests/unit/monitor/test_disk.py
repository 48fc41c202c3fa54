from __future__ import annotations

import os
from pathlib import Path

from dockyard.monitor.disk import DiskLoop, log_size, tree_size
from dockyard.monitor.inventory import Tracked


def test_tree_size_counts_files_and_links_once(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a").write_bytes(b"x" * 100)
    os.link(tmp_path / "d" / "a", tmp_path / "b")
    (tmp_path / "c").write_bytes(b"y" * 10)
    os.symlink("c", tmp_path / "s")
    assert tree_size(str(tmp_path)) == 100 + 10 + len("c")
    assert tree_size(str(tmp_path), max_entries=2) is None
    assert tree_size(str(tmp_path / "missing")) is None


def test_log_size_includes_rotations(tmp_path: Path) -> None:
    log = tmp_path / "id-json.log"
    log.write_bytes(b"1" * 7)
    (tmp_path / "id-json.log.1").write_bytes(b"2" * 3)
    assert log_size(str(log)) == 10
    assert log_size("") is None


def test_round_measures_due_containers_and_forgets_gone(tmp_path: Path) -> None:
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "f").write_bytes(b"z" * 5)
    items = [Tracked(id="a", name="a", labels={}, pid=1, running=True, upper_dir=str(tmp_path / "up"))]
    loop = DiskLoop(lambda: items, interval=60)
    assert loop.round() == 1 and loop.snapshot()["a"].rw_bytes == 5
    assert loop.round() == 0  # not due again yet
    items.clear()
    loop.round()
    assert loop.snapshot() == {}

"""Swapping restored data in (issue 28): the exchange of directories on this host, and the helper's
script run here by this host's busybox on folders standing in for /live and /new."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.engine.volume_swap import BUSYBOX, SWAP_SCRIPT, _is_static, exchange_on_host
from dockyard.errors import EngineError


def tree(root: Path) -> dict[str, str]:
    """Every entry under root: its relative path -> file content, '<dir>' or '-> target'."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        found[rel] = (f"-> {os.readlink(path)}" if path.is_symlink() else "<dir>" if path.is_dir()
                      else path.read_text())
    return found


def fill(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_exchange_swaps_each_pair_whole(tmp_path: Path) -> None:
    live = [fill(tmp_path / f"v{n}/_data", {"old": f"old {n}", "sub/x": "x"}) for n in range(2)]
    staged = [fill(tmp_path / f"s{n}/_data", {"new": f"new {n}"}) for n in range(2)]
    assert exchange_on_host(list(zip(live, staged, strict=True))) is True
    assert [tree(p) for p in live] == [{"new": "new 0"}, {"new": "new 1"}]
    assert tree(staged[0]) == {"old": "old 0", "sub": "<dir>", "sub/x": "x"}  # removed with the staging volume


def test_a_failed_exchange_puts_the_earlier_ones_back(tmp_path: Path) -> None:
    first = fill(tmp_path / "v0/_data", {"old": "old"})
    staged = fill(tmp_path / "s0/_data", {"new": "new"})
    second = fill(tmp_path / "v1/_data", {"old": "old 1", "sub/x": "x"})
    with pytest.raises(EngineError, match="every volume holds its old data"):
        exchange_on_host([(first, staged), (second, second / "sub")])  # a folder and its own child: EINVAL
    assert tree(first) == {"old": "old"} and tree(staged) == {"new": "new"}
    assert tree(second) == {"old": "old 1", "sub": "<dir>", "sub/x": "x"}
    with pytest.raises(EngineError, match="nothing was swapped"):
        exchange_on_host([(first, tmp_path / "gone")])


def test_the_helper_needs_a_static_busybox() -> None:
    assert _is_static(Path(sys.executable).resolve().read_bytes()[:1 << 16]) is False  # it has a loader
    assert _is_static(b"#!/bin/sh\n") is False
    if BUSYBOX.is_file():
        assert _is_static(BUSYBOX.read_bytes()) is (subprocess.run(["ldd", str(BUSYBOX)], capture_output=True)
                                                    .returncode != 0)


needs_busybox = pytest.mark.skipif(not BUSYBOX.is_file() or os.geteuid() != 0,
                                   reason="runs the script with this host's busybox, as root")


def script(tmp_path: Path, step: str, live: Path, new: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "swap.sh"
    path.write_text(SWAP_SCRIPT)
    return subprocess.run([str(BUSYBOX), "sh", str(path), step, "ID1"], capture_output=True, text=True,
                          env={"LIVE": str(live), "NEW": str(new), "PATH": "/nonexistent"})


@pytest.fixture
def volumes(tmp_path: Path) -> tuple[Path, Path]:
    live = fill(tmp_path / "live", {"old-a": "a", "old/b": "b", ".hidden": "h", "..dots": "d"})
    (live / "link").symlink_to("old-a")
    os.chown(live, 65534, 65534)
    live.chmod(0o750)
    new = fill(tmp_path / "new", {"new-a": "A", "new/b": "B", ".dot": "D"})
    os.link(new / "new-a", new / "same-a")
    os.chown(new / "new-a", 123, 456)
    os.chown(new, 999, 999)
    new.chmod(0o2770)
    return live, new


@needs_busybox
def test_swap_then_commit_leaves_exactly_the_restored_files(tmp_path: Path, volumes: tuple[Path, Path]) -> None:
    live, new = volumes
    old = tree(live)
    done = script(tmp_path, "swap", live, new)
    assert done.returncode == 0, done.stderr
    assert {k: v for k, v in tree(live).items() if not k.startswith(".dockyard-old-ID1")} == tree(new)
    assert {k.removeprefix(".dockyard-old-ID1/"): v for k, v in tree(live).items()
            if k.startswith(".dockyard-old-ID1/")} == old
    assert (live / "new-a").stat().st_ino == (live / "same-a").stat().st_ino  # a hard link stays one
    assert (os.stat(live / "new-a").st_uid, os.stat(live / "new-a").st_gid) == (123, 456)
    assert (live.stat().st_uid, oct(live.stat().st_mode & 0o7777)) == (999, "0o2770")  # the folder's own
    assert script(tmp_path, "commit", live, new).returncode == 0
    assert tree(live) == tree(new)


@needs_busybox
def test_undo_after_a_swap_puts_the_old_files_and_owner_back(tmp_path: Path, volumes: tuple[Path, Path]) -> None:
    live, new = volumes
    old = tree(live)
    assert script(tmp_path, "swap", live, new).returncode == 0
    done = script(tmp_path, "undo", live, new)
    assert done.returncode == 0, done.stderr
    assert tree(live) == old
    assert (live.stat().st_uid, oct(live.stat().st_mode & 0o7777)) == (65534, "0o750")


@needs_busybox
def test_a_swap_that_cannot_start_touches_nothing(tmp_path: Path, volumes: tuple[Path, Path]) -> None:
    live, new = volumes
    (live / ".dockyard-restore-ID1").mkdir()  # in the way
    old = tree(live)
    done = script(tmp_path, "swap", live, new)
    assert done.returncode == 1 and tree(live) == old


def chattr(flag: str, path: Path) -> bool:
    return shutil.which("chattr") is not None and \
        subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


@needs_busybox
def test_a_file_that_cannot_be_moved_aside_puts_the_others_back(tmp_path: Path, volumes: tuple[Path, Path]) -> None:
    live, new = volumes
    old = tree(live)
    stuck = live / "old-a"  # the glob's order: 'link' and 'old' are aside by then, the dot files not yet
    if not chattr("+i", stuck):
        pytest.skip("this file system has no immutable flag")
    try:
        done = script(tmp_path, "swap", live, new)
    finally:
        chattr("-i", stuck)
    assert done.returncode == 1 and "moving the volume's files aside failed; they were moved back" in done.stderr
    assert tree(live) == old and (live.stat().st_uid, oct(live.stat().st_mode & 0o7777)) == (65534, "0o750")


@needs_busybox
def test_a_restored_file_that_cannot_be_moved_in_puts_the_old_ones_back(tmp_path: Path,
                                                                       volumes: tuple[Path, Path]) -> None:
    live, new = volumes
    old = tree(live)
    # the script as it is, with one step added once the old files are aside: a restored file is made
    # immutable, so its rename fails half-way through moving the restored files in
    path = tmp_path / "swap.sh"
    path.write_text(SWAP_SCRIPT.replace('  if move "$stage" "$live"',
                                        '  "$FREEZE" +i "$stage/new-a"\n  if move "$stage" "$live"', 1))
    if not chattr("+i", new / "new-a"):
        pytest.skip("this file system has no immutable flag")
    chattr("-i", new / "new-a")
    done = subprocess.run([str(BUSYBOX), "sh", str(path), "swap", "ID1"], capture_output=True, text=True,
                          env={"LIVE": str(live), "NEW": str(new), "FREEZE": shutil.which("chattr") or "false"})
    for frozen in live.rglob("new-a"):
        chattr("-i", frozen)
    assert done.returncode == 1 and "the volume's own files were moved back" in done.stderr, done.stderr
    left = {k: v for k, v in tree(live).items() if not k.startswith(".dockyard-restore-ID1")}  # the frozen copy
    assert left == old and (live.stat().st_uid, oct(live.stat().st_mode & 0o7777)) == (65534, "0o750")

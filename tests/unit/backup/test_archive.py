"""Archives read whole (issue 28): a cut anywhere is told from the whole, without decoding it all at
once (one block of a file of zeros expands to gigabytes)."""

from __future__ import annotations

import os
from pathlib import Path

import zstandard

from dockyard.backup.archive import _frames_whole, write_archive


def test_every_cut_of_an_archive_is_told_from_the_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.zst"
    write_archive([os.urandom(300_000), bytes(2_000_000), b"text " * 50_000], path)  # raw, RLE, compressed blocks
    whole = path.read_bytes()
    assert _frames_whole(path) is None
    for cut in [*range(1, 40), *range(40, len(whole), 997), len(whole) - 1]:
        path.write_bytes(whole[:cut])
        assert isinstance(_frames_whole(path), EOFError), cut


def test_several_frames_and_skippable_ones_are_whole_and_garbage_is_not(tmp_path: Path) -> None:
    path = tmp_path / "a.zst"
    frame = zstandard.ZstdCompressor(write_checksum=False, write_content_size=True).compress(b"x" * 1000)
    skippable = (0x184D2A53).to_bytes(4, "little") + (3).to_bytes(4, "little") + b"abc"
    path.write_bytes(frame + skippable + frame)
    assert _frames_whole(path) is None
    path.write_bytes(frame + b"junk")
    assert isinstance(_frames_whole(path), ValueError)

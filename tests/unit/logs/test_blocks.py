"""blocks.py: a block's columns encoded whole and back, cut by lines and by text."""

from __future__ import annotations

import random

import orjson
import pytest

from dockyard.logs.blocks import BLOCK_LINES, BLOCK_TEXT, blocks, decode, encode, escaped, messages, spans
from dockyard.logs.lines import Lines

ODD = ["", "plain", 'quote " and \\ backslash', "new\nline", "tab\t", "\x00nul", "é日😀", "\u2028", "<a&b>", "Z" * 300]


def test_a_block_decodes_to_its_lines_with_ids_for_offsets() -> None:
    lines = Lines.of([(100 + i, 1_700_000_000_000_000_000 + i, i % 2, m) for i, m in enumerate(ODD)])
    block = encode(lines, 0, len(lines))
    assert (block.lines, block.ts_min, block.ts_max) == (len(ODD), lines.ts[0], lines.ts[-1])
    back = decode(7, block.streams, block.times, block.msgs)
    assert back.offsets == list(range(7, 7 + len(ODD))) and back.ts == lines.ts and back.msgs == ODD
    assert back.streams == lines.streams and messages(block.msgs) == ODD
    assert block.chars == len(block.msgs.decode()) < len(block.msgs)  # characters, not bytes


def test_all_stdout_stores_no_stream_bytes() -> None:
    block = encode(Lines.of([(0, 5, 0, "a"), (1, 3, 0, "b")]), 0, 2)
    assert block.streams is None and (block.ts_min, block.ts_max) == (3, 5)
    assert decode(1, None, block.times, block.msgs).streams is None


def test_blocks_hold_at_most_block_lines_and_about_block_text() -> None:
    short = Lines.of([(i, i, 0, "x") for i in range(2 * BLOCK_LINES + 3)])
    assert [b - a for a, b in spans(short)] == [BLOCK_LINES, BLOCK_LINES, 3]
    long = Lines.of([(i, i, 0, "y" * 1000) for i in range(1000)])
    sizes = [b - a for a, b in spans(long)]
    assert sum(sizes) == 1000 and max(sizes) * 1000 <= BLOCK_TEXT
    assert sum(b.lines for b in blocks(long)) == 1000 and list(spans(Lines.of([]))) == []


@pytest.mark.parametrize("seed", range(5))
def test_a_message_holding_a_text_has_the_escaped_text_in_its_block(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(200):
        msg = "".join(rng.choice(ODD[1:] + list("ab\"\\\n")) for _ in range(rng.randrange(1, 6)))
        start = rng.randrange(len(msg))
        part = msg[start:start + rng.randrange(1, 8)]
        assert escaped(part) in orjson.dumps(["other", msg]).decode()

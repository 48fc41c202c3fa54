"""The store's unit of writing: a block of up to BLOCK_LINES consecutive lines of one container.

A block is one row (store.py): its line ids (first, last), its container, its time range, and its
columns encoded whole: the times as an array of int64 ns, the streams as one byte per line (none
when all are stdout), the messages as a JSON array (as fast to write as joining them, and SQLite's
json_each reads it: the store's `lines` view). Storing a line then costs a share of one row and of a few string
joins, instead of a row, a B-tree entry in the time index and a Python tuple of its own. Pure:
columns in, column values out, and back.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from dockyard.logs.lines import Lines

BLOCK_LINES = 256  # lines per block at most (as many as a full-text document held before blocks) ...
BLOCK_TEXT = 128 << 10  # ... and about this many characters of messages (a read decodes a whole block)
FORMAT = 0  # enc: int64 little-endian times, a byte per stream, a JSON array of messages
_SWAP = sys.byteorder != "little"  # the times are stored little-endian


@dataclass(frozen=True)
class Block:
    """A block's column values, as stored."""

    lines: int
    ts_min: int
    ts_max: int
    enc: int
    streams: bytes | None
    times: bytes
    msgs: bytes  # the messages as a JSON array, in UTF-8 (the store keeps it as text)
    chars: int  # its characters


def spans(lines: Lines) -> Iterator[tuple[int, int]]:
    """(start, stop) of each block the lines make: BLOCK_LINES at most, fewer when they are long."""
    n = len(lines)
    if not n:
        return
    text = sum(map(len, lines.msgs))
    per = max(1, min(BLOCK_LINES, BLOCK_TEXT * n // max(1, text)))
    for start in range(0, n, per):
        yield start, min(n, start + per)


def encode(lines: Lines, start: int, stop: int) -> Block:
    ts = lines.ts[start:stop]
    msgs = lines.msgs[start:stop]
    times = array("q", ts)
    if _SWAP:
        times.byteswap()
    streams = None
    if lines.streams is not None:
        column = lines.streams[start:stop]
        if any(column):
            streams = bytes(column)
    text = orjson.dumps(msgs)
    return Block(len(msgs), min(ts), max(ts), FORMAT, streams, times.tobytes(), text,
                 len(text) if text.isascii() else len(text.decode()))


def blocks(lines: Lines) -> Iterator[Block]:
    for start, stop in spans(lines):
        yield encode(lines, start, stop)


def messages(msgs: str | bytes) -> list[str]:
    return orjson.loads(msgs)  # type: ignore[no-any-return]


def escaped(text: str) -> str:
    """`text` as it is inside the JSON of a block's messages: a message holds it only if the block's
    JSON holds this (escapes are made character by character), the SQL pre-filter of a search."""
    return orjson.dumps(text).decode()[1:-1]


def times(data: bytes) -> list[int]:
    column = array("q")
    column.frombytes(data)
    if _SWAP:
        column.byteswap()
    return column.tolist()


def streams(data: bytes | None, n: int) -> list[int]:
    return [0] * n if data is None else list(data)


def decode(first: int, stream_data: bytes | None, time_data: bytes, msgs: str) -> Lines:
    """A stored block back as lines; their offsets are their ids (first, first + 1, ...)."""
    texts = messages(msgs)
    return Lines(list(range(first, first + len(texts))), times(time_data),
                 None if stream_data is None else list(stream_data), texts)


# Blocks of lines longer than this on average are indexed as their distinct words (index_text).
WORDS_ONCE_FROM = 128


def block_text(msgs: list[str]) -> str:
    """A block's full-text document. The index keeps, per block, only which words it holds (detail=none,
    no sizes): a word's second occurrence adds nothing to it, yet costs as much to tokenize. Blocks of
    long lines (log templates, repeated JSON keys) are cut to each distinct whitespace-separated word
    once. The tokenizer never joins characters across whitespace, so the block's set of indexed
    words, and every search, stay the same; short lines are not worth the split."""
    return index_text("\n".join(msgs), len(msgs))


def stored_index_text(msgs: str | bytes, lines: int) -> str:
    """block_text of a stored block (its messages as a JSON array). Without a backslash the JSON text
    holds the messages' characters as they are, between quotes and commas, which the tokenizer
    separates words at as it does at newlines: the same words, without decoding the block.

    The store hands the JSON over as its UTF-8 bytes (`cast(msgs as blob)`): a block of long lines is
    cut to its distinct words as bytes, and only those few are decoded (a block of 1 KiB lines: 128 KiB
    of text, a few KiB of distinct words). ASCII whitespace never occurs inside a UTF-8 sequence, and
    the tokenizer separates words at it as at any other whitespace: the same words as index_text."""
    if isinstance(msgs, str):
        if "\\" in msgs:
            return block_text(messages(msgs))
        return index_text(msgs, lines)
    if b"\\" in msgs:
        return block_text(messages(msgs))
    if len(msgs) < WORDS_ONCE_FROM * lines:
        return msgs.decode()
    return b" ".join(dict.fromkeys(msgs.split())).decode()


def index_text(text: str, lines: int) -> str:
    """block_text of a block's messages already joined by newlines."""
    if len(text) < WORDS_ONCE_FROM * lines:
        return text
    return " ".join(dict.fromkeys(text.split()))

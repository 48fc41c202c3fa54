"""The full-text document of a block of lines: its distinct words once, the same words indexed."""

from __future__ import annotations

import random
import sqlite3

import orjson
import pytest

from dockyard.logs.blocks import WORDS_ONCE_FROM, block_text, stored_index_text

PIECES = ["GET", "/api/v1/orders", "200", "12ms", '{"level":"info",', '"msg":"done"}', "naïve", "Straße", "日本語",
          "foo—bar", "x_y", "a.b", "ÉCOLE", "tab\there", "nbsp\xa0x", "ideo\u3000y", "sep\x1cz", "line\u2028w", "42",
          "e\u0301", "😀ok", "--", "", "café-au-lait"]


def indexed_words(*documents: str) -> set[str]:
    """The terms the store's full-text index (same tokenizer, detail=none) keeps for the documents."""
    db = sqlite3.connect(":memory:")
    db.execute("create virtual table t using fts5(msg, content='', detail=none, columnsize=0)")
    db.execute("create virtual table v using fts5vocab(t, row)")
    db.executemany("insert into t(rowid, msg) values (?, ?)", list(enumerate(documents, 1)))
    return {term for (term,) in db.execute("select term from v")}


@pytest.mark.parametrize("seed", range(10))
def test_long_lines_are_indexed_as_their_distinct_words_with_the_same_terms(seed: int) -> None:
    rng = random.Random(seed)
    msgs = [" ".join(rng.choice(PIECES) for _ in range(60)) + f" n{i}" for i in range(50)]
    assert sum(map(len, msgs)) >= WORDS_ONCE_FROM * len(msgs)
    text = block_text(msgs)
    assert len(text) < len("\n".join(msgs)) / 3  # the repeated words are gone ...
    assert indexed_words(text) == indexed_words("\n".join(msgs))  # ... and the index holds the same words


def test_short_lines_are_indexed_as_they_are() -> None:
    msgs = ["GET /a 200", "GET /a 200", "POST /b 500"]
    assert block_text(msgs) == "GET /a 200\nGET /a 200\nPOST /b 500"


PLAIN = [p for p in PIECES if "\\" not in orjson.dumps(p).decode()] + ["a,b", "[x]", "{y}", "k:v"]


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("words", [3, 60])
@pytest.mark.parametrize("escapes", [False, True])
def test_a_stored_block_is_indexed_from_its_json_with_the_same_words(seed: int, words: int, escapes: bool) -> None:
    rng = random.Random(seed)
    pieces = PIECES + ['say "hi"'] if escapes else PLAIN
    msgs = [" ".join(rng.choice(pieces) for _ in range(words)) for _ in range(30)]
    stored = orjson.dumps(msgs).decode()
    assert ("\\" in stored) == escapes  # the JSON as it is, or decoded first
    assert indexed_words(stored_index_text(stored, len(msgs))) == indexed_words("\n".join(msgs))
    # as the store hands it over (its UTF-8 bytes): the same words
    assert indexed_words(stored_index_text(stored.encode(), len(msgs))) == indexed_words("\n".join(msgs))


def test_a_stored_block_of_long_lines_as_bytes_is_cut_to_its_distinct_words() -> None:
    msgs = [f"naïve 日本語 GET /api/v1/orders\u3000x\xa0y {'w' * 150} n{i}" for i in range(40)]
    stored = orjson.dumps(msgs)
    assert b"\\" not in stored
    text = stored_index_text(stored, len(msgs))
    assert isinstance(text, str) and len(text) < len(stored) / 5
    assert indexed_words(text) == indexed_words("\n".join(msgs))

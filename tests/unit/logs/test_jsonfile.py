from __future__ import annotations

import orjson

from dockyard.logs.jsonfile import STDERR, STDOUT, Joiner, format_time, parse_time


def entry(log: str, stream: str = "stdout", time: str = "2026-11-25T18:55:55.28024357Z") -> bytes:
    return orjson.dumps({"log": log, "stream": stream, "time": time}) + b"\n"


def test_parse_time_handles_every_fraction_length_and_zones() -> None:
    assert parse_time("1970-01-01T00:00:01Z") == 1_000_000_000
    assert parse_time("1970-01-01T00:00:01.5Z") == 1_500_000_000
    assert parse_time("1970-01-01T00:00:01.000000001Z") == 1_000_000_001
    assert parse_time("1970-01-01T02:00:01.5+02:00") == 1_500_000_000
    assert format_time(1_500_000_000) == "1970-01-01T00:00:01.500000Z"


def test_whole_lines_with_offsets_streams_and_an_unfinished_tail() -> None:
    data = entry("a\n") + entry("b\n", "stderr") + entry("c\n")[:-5]
    chunk = Joiner().parse(data, 100, "f")
    first = len(entry("a\n"))
    assert [(o, s, m) for o, _, s, m in chunk.lines] == [(100, STDOUT, "a"), (100 + first, STDERR, "b")]
    assert chunk.consumed == first + len(entry("b\n", "stderr"))


def test_partial_lines_are_joined_across_chunks_with_the_last_piece_as_identity() -> None:
    joiner = Joiner()
    one, two, three = entry("x" * 16384), entry("y" * 16384), entry("z\n")
    c1 = joiner.parse(one, 0, "f")
    assert c1.lines == [] and c1.consumed == len(one) and joiner.pending is not None
    assert joiner.pending.offset == 0
    c2 = joiner.parse(two + three, len(one), "f")
    (line,) = c2.lines
    assert line[0] == len(one) + len(two) and line[3] == "x" * 16384 + "y" * 16384 + "z"
    assert joiner.pending is None


def test_a_bad_json_line_is_counted_and_skipped() -> None:
    chunk = Joiner().parse(b"{not json\n" + entry("ok\n"), 0, "f")
    assert chunk.bad == 1 and [m for *_, m in chunk.lines] == ["ok"]


def test_flush_gives_the_last_line_without_newline() -> None:
    joiner = Joiner()
    joiner.parse(entry("tail-without-newline"), 0, "f")
    assert joiner.flush() == ("f", (0, parse_time("2026-11-25T18:55:55.28024357Z"), STDOUT, "tail-without-newline"))

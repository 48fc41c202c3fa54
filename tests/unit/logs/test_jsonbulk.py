from __future__ import annotations

import random

import orjson
import pytest

from dockyard.logs.jsonbulk import parse_span
from dockyard.logs.jsonfile import BULK_BLOCK, STDERR, STDOUT, Joiner


def docker_line(log: str, stream: str = "stdout", time: str = "2026-12-07T02:00:00.54085324Z") -> bytes:
    """As Docker writes it (it escapes <, > and & too)."""
    text = orjson.dumps(log).replace(b"<", b"\\u003c").replace(b">", b"\\u003e").replace(b"&", b"\\u0026")
    return b'{"log":' + text + b',"stream":"' + stream.encode() + b'","time":"' + time.encode() + b'"}\n'


def parse_block(block: bytes, base: int) -> list[tuple[int, int, int, str]] | None:
    return parse_span(b"xyz" + block + b"{unfinished", 3, 3 + len(block), base - 3)


def per_line(block: bytes, base: int) -> list[tuple[int, int, int, str]]:
    chunk = Joiner()._parse_lines(block, base, "f")
    assert chunk.bad == 0 and chunk.consumed == len(block)
    return chunk.lines


ALPHABET = ['a', 'Z', '0', ' ', '"', '\\', '/', '\t', '\r', '\x00', '\x1b', '<', '>', '&', 'é', 'ß', '—', '日', '😀',
            '\u2028', '{', '}', ',', ':', '\\n', 'n']


def random_block(rng: random.Random, lines: int) -> bytes:
    out = []
    for _ in range(lines):
        msg = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 40)))
        digits = rng.randrange(1, 10)
        fraction = str(rng.randrange(1, 10 ** digits)).rjust(digits, "0")
        stamp = f"2026-12-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:" \
                f"{rng.randrange(60):02d}.{fraction}Z"
        out.append(docker_line(msg + "\n", rng.choice(["stdout", "stdout", "stderr"]), stamp))
    return b"".join(out)


@pytest.mark.parametrize("seed", range(20))
def test_a_block_gives_the_records_the_per_line_parser_gives(seed: int) -> None:
    rng = random.Random(seed)
    block = random_block(rng, rng.randrange(1, 300))
    base = rng.randrange(0, 1 << 40)
    bulk = parse_block(block, base)
    assert bulk is not None  # Docker's own form takes the fast path
    assert bulk == per_line(block, base)


def one_second_block(rng: random.Random, lines: int, second: str = "2026-12-07T02:00:07") -> bytes:
    """Lines of one second, as a busy writer's are (their fractions of 1-9 digits, trailing zeros dropped)."""
    out = []
    for _ in range(lines):
        digits = rng.choice([9, 9, 9, 8, 7, 3, 1])
        fraction = str(rng.randrange(1, 10 ** digits)).rjust(digits, "0").rstrip("0") or "5"
        out.append(docker_line("x\n", rng.choice(["stdout", "stderr"]), f"{second}.{fraction}Z"))
    return b"".join(out)


@pytest.mark.parametrize("seed", range(10))
def test_a_block_of_one_second_gives_the_times_the_per_line_parser_gives(seed: int) -> None:
    rng = random.Random(seed)
    block = one_second_block(rng, rng.randrange(1, 600))
    bulk = parse_block(block, 3)
    assert bulk is not None
    assert bulk == per_line(block, 3)


@pytest.mark.parametrize("stamps", [
    ["2026-12-07T02:00:00.5Z", "2026-12-07T02:00:00.1234567890Z"],  # 10 digits
    ["2026-12-07T02:00:00.5Z", "2026-12-07T02:00:00.+5Z"],
    ["2026-12-07T02:00:00.5Z", "2026-12-07T02:00:00Z"],  # no fraction
    ["2026-12-07T02:00:00.5Z", "2026-12-07T02:00:00.5+00:00"],
    ["2026-12-07T02:00:00.5Z", "2026-12-07T02:00:00.5ZZ"],
    ["2026-12-07T02:00:00.5Z", "2026-12-07T02:00:00.5Z2026-12-07T02:00:00.5Z"],
    ["2026-12-07T02:00:00.1Z2026-12-07T02:00:00.", "2Z"],  # joined, they read as two times of one second
    ["2026-12-07T02:00:00.5Z", "2026-12-07T02:00:00.٣Z"],  # a digit, not an ASCII one
    ["2026-13-07T02:00:00.5Z", "2026-13-07T02:00:00.6Z"],  # no 13th month
])
def test_times_of_one_second_in_another_form_are_left_to_the_per_line_parser(stamps: list[str]) -> None:
    assert parse_block(b"".join(docker_line("a\n", time=t) for t in stamps), 0) is None


def plain_block(rng: random.Random, lines: int) -> bytes:
    """Lines whose messages are ASCII without escapes: their offsets come from their values' lengths."""
    return b"".join(docker_line("".join(rng.choice("ab c-_.:/0123456789") for _ in range(rng.randrange(0, 300))) + "\n",
                                rng.choice(["stdout", "stderr", "other"]),
                                f"2026-12-07T02:00:{rng.randrange(2):02d}.{rng.randrange(1, 10 ** 9)}Z")
                    for _ in range(lines))


@pytest.mark.parametrize("odd", [b"", docker_line("caf\u00e9 \"x\"\n"), docker_line("\u00e9t\u00e9\n"),
                                 b'{"log":"a\\n", "stream":"stdout","time":"2026-12-07T02:00:00.5Z"}\n',
                                 b'{"log":"a\\n","stream":"stdout","attrs":{"k":"v"},"time":"2026-12-07T02:00:00.5Z"}\n',
                                 b'{"log":"a\\u000a","stream":"stdout","time":"2026-12-07T02:00:00.5Z"}\n'])
@pytest.mark.parametrize("seed", range(5))
def test_offsets_are_exact_whether_lines_are_plain_or_not(seed: int, odd: bytes) -> None:
    rng = random.Random(seed)
    head, tail = plain_block(rng, rng.randrange(1, 200)), plain_block(rng, rng.randrange(0, 200))
    block = head + odd + tail
    assert parse_block(block, 11) == per_line(block, 11)


def test_offsets_of_plain_lines_are_their_values_lengths() -> None:
    from dockyard.logs.jsonbulk import _offsets

    one, two = docker_line("a\n", time="2026-12-07T02:00:00.5Z"), docker_line("bc\n", time="2026-12-07T02:00:00.25Z")
    assert _offsets(one + two, 7, ["a", "bc"], None, ["2026-12-07T02:00:00.5Z", "2026-12-07T02:00:00.25Z"]) == \
        [7, 7 + len(one)]
    # (the same values and total length, lines cut elsewhere: taken from the values, not measured)
    moved = b"x" * (len(one) + 4) + b"\n" + b"y" * (len(two) - 6) + b"\n"
    assert len(moved) == len(one + two)
    assert _offsets(moved, 7, ["a", "bc"], None, ["2026-12-07T02:00:00.5Z", "2026-12-07T02:00:00.25Z"]) == \
        [7, 7 + len(one)]
    # a longer line: measured
    longer = one + two.replace(b'"bc', b'"b\\u0063')
    assert _offsets(longer, 7, ["a", "bc"], None, ["2026-12-07T02:00:00.5Z", "2026-12-07T02:00:00.25Z"]) == \
        [7, 7 + len(one)]


def test_a_line_of_two_complete_values_is_left_to_the_per_line_parser() -> None:
    block = GOOD + GOOD[:-1] + b"," + GOOD + GOOD
    assert parse_block(block, 0) is None


def test_offsets_times_streams_and_messages() -> None:
    one = docker_line("a\n", "stdout", "1970-01-01T00:00:01.5Z")
    two = docker_line("b <x> & \"q\"\n", "stderr", "1970-01-01T00:00:02.000000001Z")
    assert parse_block(one + two, 7) == [(7, 1_500_000_000, STDOUT, "a"),
                                         (7 + len(one), 2_000_000_001, STDERR, 'b <x> & "q"')]


def test_a_stream_other_than_stderr_counts_as_stdout_like_the_per_line_parser() -> None:
    block = docker_line("a\n", "stdout") + docker_line("b\n", "other")
    lines = per_line(block, 0)
    assert parse_block(block, 0) == lines
    assert [(o, s) for o, _, s, _ in lines] == [(0, STDOUT), (len(docker_line("a\n")), STDOUT)]


def test_extra_keys_are_ignored_like_the_per_line_parser() -> None:
    block = b'{"log":"a\\n","stream":"stdout","attrs":{"tag":"x"},"time":"2026-12-07T02:00:00.5Z"}\n'
    assert parse_block(block, 0) == per_line(block, 0)


GOOD = docker_line("ok\n")


@pytest.mark.parametrize("block", [
    b"\n",
    GOOD + docker_line("piece of a long line"),  # a partial line (no newline in "log")
    GOOD + docker_line(""),
    GOOD + b"{not json\n",
    GOOD + b"\n",
    GOOD + b'{"log":"a\\n","stream":"stdout","time":"2026-12-07T02:00:00.5Z"},{"log":"b\\n"}\n',
    GOOD + b'{"log":"a\\n","stream":"stdout"}\n',  # no time
    GOOD + b'{"stream":"stdout","time":"2026-12-07T02:00:00.5Z"}\n',  # no log
    GOOD + b'{"log":"a\\n","time":"2026-12-07T02:00:00.5Z"}\n',  # no stream (the per-line parser takes it)
    GOOD + b'{"log":5,"stream":"stdout","time":"2026-12-07T02:00:00.5Z"}\n',
    GOOD + b'[1,2]\n',
    GOOD + docker_line("a\n", time="2026-12-07T02:00:00Z"),  # no fraction
    GOOD + docker_line("a\n", time="2026-12-07T04:00:00.5+02:00"),  # a zone
    GOOD + docker_line("a\n", time="2026-12-07T02:00:00.+5Z"),
    GOOD + docker_line("a\n", time="2026-12-07T02:00:00.1234567890Z"),  # 10 digits
    GOOD + docker_line("a\n", time="2026-13-07T02:00:00.5Z"),  # no 13th month
])
def test_anything_but_complete_docker_lines_is_left_to_the_per_line_parser(block: bytes) -> None:
    assert parse_block(block, 0) is None


def test_the_joiner_takes_whole_lines_in_bulk_and_keeps_an_unfinished_tail() -> None:
    block = random_block(random.Random(1), 50)
    tail = docker_line("next\n")[:-9]
    chunk = Joiner().parse(block + tail, 10, "f")
    assert chunk.consumed == len(block) and chunk.bad == 0
    assert chunk.lines == per_line(block, 10)


def test_the_joiner_falls_back_line_by_line_for_a_block_with_a_bad_line() -> None:
    block = docker_line("a\n") + b"{bad\n" + docker_line("b\n")
    chunk = Joiner().parse(block, 0, "f")
    assert chunk.bad == 1 and [m for *_, m in chunk.lines] == ["a", "b"]
    assert chunk.consumed == len(block)


def test_a_log_that_is_not_text_is_a_bad_line() -> None:
    chunk = Joiner().parse(b'{"log":5,"stream":"stdout","time":"2026-12-07T02:00:00.5Z"}\n' + GOOD, 0, "f")
    assert chunk.bad == 1 and [m for *_, m in chunk.lines] == ["ok"]


def test_a_read_larger_than_a_bulk_block_is_parsed_block_by_block_then_line_by_line_from_a_bad_line() -> None:
    rng = random.Random(7)
    head = random_block(rng, 2000)  # several bulk blocks
    assert len(head) > 2 * BULK_BLOCK
    tail = random_block(rng, 30)
    data = head + b"{bad\n" + tail + docker_line("unfinished\n")[:-3]
    chunk = Joiner().parse(data, 5, "f")
    expected = Joiner()._parse_lines(data, 5, "f")
    assert chunk == expected
    assert chunk.bad == 1 and len(chunk.lines) == 2030
    assert chunk.consumed == len(data) - len(docker_line("unfinished\n")) + 3

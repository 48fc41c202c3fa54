"""Docker's json-file lines in bulk: a block of whole lines -> columns of lines, in a few passes of C.

The per-line parser (jsonfile.Joiner) pays for a JSON parse call, a dozen lookups and slices and a
tuple per line in Python's interpreter; most of that is the interpreter's, not the work's. Here the
block is parsed as ONE JSON array (orjson; its newlines made commas, no bytes object per line), and
each column (message, time, stream, offset) is made by a few `map`s over the block: no Python
bytecode runs per line, and the columns go to the store as they are (lines.Lines), no tuple per line.

The fast path takes a block only when every line is what Docker writes for a complete line: an
object with a string "log" ending in a newline, a string "stream" and an RFC 3339 UTC "time" with
1-9 fraction digits. Anything else (a partial line of a long output, a bad line, another time
format) returns None, and the caller parses that block line by line: the records are the same
either way (tests/unit/logs/test_jsonbulk.py compares the two).
"""

from __future__ import annotations

import calendar
import time
from itertools import accumulate, repeat
from operator import add, itemgetter, mul

import orjson

from dockyard.logs.lines import Lines

_LOG, _TIME, _STREAM_OF = itemgetter("log"), itemgetter("time"), itemgetter("stream")
_LAST, _DOT_AT = itemgetter(-1), itemgetter(19)
_CUT_NEWLINE = itemgetter(slice(0, -1))  # a message without its final "\n"
_SECOND, _FRACTION = itemgetter(slice(0, 19)), itemgetter(slice(20, -1))
_NINES, _ZEROS = repeat(9), repeat("0")  # a fraction to 9 digits (str.ljust: its trailing zeros put back)
_SCALE = tuple(10 ** max(0, 30 - n) for n in range(31))  # time text of length n -> ns per fraction unit
_seconds: dict[str, int] = {}  # "2026-12-07T02:00:00" -> ns since the epoch
PLAIN = len(b'{"log":"\\n","stream":"","time":""}\n')  # a line in Docker's form, without its values


def _second_ns(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S")) * 1_000_000_000


def parse_span(data: bytes, start: int, end: int, base: int) -> Lines | None:
    """The lines of data[start:end] (consecutive whole json-file lines, each ending in b"\\n"; data's
    first byte is byte `base` of its file), or None when one is not a complete line in Docker's own form."""
    raw = data[start:end]
    if not raw.endswith(b"\n"):
        return None
    # bytes.count and bytes.split go byte by byte; replace finds the newlines with memchr
    commas = raw.replace(b"\n", b",")
    n = len(raw) - len(raw.replace(b"\n", b""))
    try:
        objects = _objects(commas, n)
        if objects is None:
            return None
        logs, streams_text, stamps = objects
        ns = _times(stamps, n)
        if ns is None:
            return None
        if streams_text.count("stdout") == n:
            streams = None
        else:  # as the per-line parser: "stderr" is 1, anything else 0
            streams = list(map(int, map("stderr".__eq__, streams_text)))
        offsets = _offsets(raw, base + start, logs, streams_text if streams else None, stamps)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
        return None
    return Lines(offsets, ns, streams, logs)


def _objects(commas: bytes, n: int) -> tuple[list[str], list[str], list[str]] | None:
    """The text (without its newline), stream and time columns of complete lines (their newlines made
    commas: `{...},{...},`), parsed as one array."""
    entries = orjson.loads(b"".join((b"[", memoryview(commas)[:-1], b"]")))
    if len(entries) != n:  # a line held two values (`{...},{...}`); an empty line is not JSON
        return None
    logs = list(map(_LOG, entries))
    if list(map(_LAST, logs)).count("\n") != n:  # a piece of a longer line, or an empty one
        return None
    return list(map(_CUT_NEWLINE, logs)), list(map(_STREAM_OF, entries)), list(map(_TIME, entries))


def _offsets(raw: bytes, first: int, msgs: list[str], streams: list[str] | None, stamps: list[str]) -> list[int]:
    """Where each line of `raw` starts (`first`: its first). A line in Docker's plain form whose message
    is ASCII without escapes is PLAIN bytes and its values' characters long (streams None: "stdout"
    each); any other form of the same values is longer (an escape, a UTF-8 sequence, a space, another
    key). So when the lines' values add up to `raw`'s length, those are each line's; else the lines
    are measured (a split: byte by byte, and a bytes object each)."""
    if streams is None:
        sizes = map((PLAIN + 6).__add__, map(add, map(len, msgs), map(len, stamps)))
    else:
        sizes = map(add, map(PLAIN.__add__, map(len, streams)), map(add, map(len, msgs), map(len, stamps)))
    offsets = list(accumulate(sizes, initial=first))
    if offsets.pop() == first + len(raw):
        return offsets
    offsets = list(accumulate(map((1).__add__, map(len, raw.split(b"\n"))), initial=first))
    del offsets[-2:]  # n + 2 values: after the last line, and after the empty piece that follows it
    return offsets


def _times(stamps: list[str], n: int) -> list[int] | None:
    """RFC 3339 UTC times with 1-9 fraction digits ('2026-12-07T02:00:00.54085324Z') -> ns; None when
    one is in another form (the per-line parser knows the others)."""
    one = _one_second(stamps, n)
    if one is not None:
        return one
    lengths = list(map(len, stamps))
    if min(lengths) < 22 or max(lengths) > 30:
        return None
    if list(map(_DOT_AT, stamps)).count(".") != n or list(map(_LAST, stamps)).count("Z") != n:
        return None
    fractions = list(map(_FRACTION, stamps))
    digits = "".join(fractions)
    if not (digits.isascii() and digits.isdigit()):
        return None
    seconds = list(map(_SECOND, stamps))
    known = _seconds
    ns = list(map(known.get, seconds))
    if None in ns:  # a second not seen yet (a few a second, whatever the rate)
        if len(known) > 8192:
            known.clear()
        for text in set(seconds).difference(known):
            known[text] = _second_ns(text)  # ValueError: not a time
        ns = list(map(known.__getitem__, seconds))
    return list(map(add, ns, map(mul, map(int, fractions), map(_SCALE.__getitem__, lengths))))


def _one_second(stamps: list[str], n: int) -> list[int] | None:
    """_times of a group whose times all fall in one second, as most do (a busy writer's 64 KiB of lines
    take milliseconds), in fewer passes: the second is looked up once, and the fractions are cut from
    the group's times joined; None when the group is not of that form.

    Joined, such times read 'HEAD d..d Z HEAD d..d Z ... HEAD d..d Z' (HEAD: 'YYYY-MM-DDTHH:MM:SS.').
    When each time ends with 'Z' and the joined text holds no other 'Z', its 'Z's are where the times
    end; when it starts with HEAD, each 'Z' but the last is followed by HEAD and only digits lie
    between a HEAD and the next 'Z', every time is HEAD, digits, 'Z'; 9 digits at most (30 characters)."""
    head = stamps[0][:20]
    if len(head) != 20 or head[19] != ".":
        return None
    joined = "".join(stamps)
    if (joined.count("Z") != n or list(map(_LAST, stamps)).count("Z") != n or not joined.startswith(head)
            or joined.count("Z" + head) != n - 1):
        return None
    padded = list(map(str.ljust, joined[20:-1].split("Z" + head), _NINES, _ZEROS))  # 9 digits: trailing 0s back
    digits = "".join(padded)
    if len(digits) != 9 * n or not digits.encode().isdigit():  # more than 9 (the per-line parser's); (bytes: ASCII)
        return None
    second = _seconds.get(head[:19])
    if second is None:
        if len(_seconds) > 8192:
            _seconds.clear()
        second = _seconds[head[:19]] = _second_ns(head[:19])  # ValueError: not a time
    return list(map(second.__add__, map(int, padded)))

"""Docker's json-file log format -> line records. Pure: bytes in, records out, no I/O.

Each line of `<id>-json.log` is `{"log": "...", "stream": "stdout", "time": "RFC3339Nano"}`.
Docker splits long output at 16 KiB: every piece but the last has no trailing newline in "log";
`Joiner` puts the pieces back together. A record's identity within its file is the byte offset
of its LAST piece, so identities grow strictly with the file offset (needed by the store's
de-duplication); while a line is incomplete, the read position stays at its FIRST piece, so a
restart reads all of it again.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field

import orjson

from dockyard.logs.jsonbulk import parse_span
from dockyard.logs.lines import Line, Lines

STDOUT, STDERR = 0, 1
STREAM_NAMES = ("stdout", "stderr")
MAX_LINE = 1 << 20  # a joined line longer than this is emitted in pieces (bounded memory)
BULK_BLOCK = 64 << 10  # bytes of whole lines parsed in bulk at a time

__all__ = ["STDERR", "STDOUT", "STREAM_NAMES", "Chunk", "Joiner", "Line", "Lines", "format_time", "parse_time"]

_seconds: dict[str, int] = {}
_FRACTION_SCALE = tuple(10 ** (9 - n) for n in range(10))  # n fraction digits -> ns per unit


def parse_time(text: str) -> int:
    """Docker's RFC 3339 UTC time with 0-9 fraction digits -> nanoseconds since the epoch."""
    # What Docker writes (`...T19:29:17.54085324Z`, RFC3339Nano: trailing zeros dropped, so 1-9
    # digits), about 1/3 of the general path's cost: this runs once per line.
    if 21 < len(text) <= 30 and text[-1] == "Z" and text[19] == ".":
        sec = _seconds.get(text[:19])
        if sec is not None:
            return sec + int(text[20:-1]) * _FRACTION_SCALE[len(text) - 21]
    return _parse_time(text)


def _parse_time(text: str) -> int:
    head = text[:19]
    ns = _seconds.get(head)
    if ns is None:
        ns = calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S")) * 1_000_000_000
        if len(_seconds) > 8192:
            _seconds.clear()
        _seconds[head] = ns
    if len(text) > 20 and text[19] == ".":
        end = len(text) - 1 if text[-1] == "Z" else _zone_start(text)
        frac = text[20:end]
        ns += int((frac + "000000000")[:9])
        if text[-1] != "Z":
            ns -= _zone_offset(text[end:])
    elif text[-1] != "Z" and len(text) > 19:
        ns -= _zone_offset(text[19:])
    return ns


def _zone_start(text: str) -> int:
    for i in range(len(text) - 1, 19, -1):
        if text[i] in "+-":
            return i
    return len(text)


def _zone_offset(zone: str) -> int:
    if not zone or zone == "Z":
        return 0
    sign = -1 if zone[0] == "-" else 1
    hours, _, minutes = zone[1:].partition(":")
    return sign * (int(hours) * 3600 + int(minutes or 0) * 60) * 1_000_000_000


def format_time(ns: int) -> str:
    """Nanoseconds since the epoch -> RFC 3339 UTC with microseconds (what sinks show)."""
    sec, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{rest // 1000:06d}Z"


@dataclass
class Pending:
    """An incomplete (partial) line: where it starts, and its pieces so far."""

    file: str
    offset: int
    time: int
    stream: int
    parts: list[str] = field(default_factory=list)
    size: int = 0
    last: int = 0  # offset of the latest piece: the joined line's identity ...
    last_file: str = ""  # ... in this file


@dataclass
class Chunk:
    lines: Lines
    consumed: int  # bytes of whole json lines used from the data
    bad: int = 0  # json lines that could not be parsed (counted, skipped)


class Joiner:
    """Parses chunks of one container's log files, joining partial lines across chunks and files."""

    def __init__(self) -> None:
        self.pending: Pending | None = None

    def parse(self, data: bytes, base: int, file: str) -> Chunk:
        """The whole lines of `data` (which starts at byte `base` of `file`); a partial line is held."""
        if self.pending is not None:
            return self._parse_lines(data, base, file)
        # The common case, whole lines: in bulk (jsonbulk.py), by groups of about BULK_BLOCK bytes
        # (each group's columns stay in the CPU's cache); from the first group that is not Docker's
        # plain form on, line by line.
        end = data.rfind(b"\n") + 1  # after it: nothing, or a line still being written
        parts: list[Lines] = []
        done = 0  # bytes of the lines parsed in bulk
        while done < end:
            stop = data.find(b"\n", done + BULK_BLOCK - 1, end) + 1 or end  # a group's whole lines
            parsed = parse_span(data, done, stop, base)
            if parsed is None:
                break
            parts.append(parsed)
            done = stop
        if done == 0:
            return self._parse_lines(data, base, file)
        if done == len(data):
            return Chunk(Lines.join(parts), done)
        rest = self._parse_lines(data[done:], base + done, file)
        return Chunk(Lines.join([*parts, rest.lines]), done + rest.consumed, rest.bad)

    def _parse_lines(self, data: bytes, base: int, file: str) -> Chunk:
        loads = orjson.loads
        out: list[Line] = []
        append = out.append
        bad = 0
        off = base
        pieces = data.split(b"\n")
        pieces.pop()  # after the last newline: empty, or a line still being written
        pending = self.pending
        for raw in pieces:
            size = len(raw) + 1
            try:
                entry = loads(raw)
                msg: str = entry["log"]
                if type(msg) is not str:
                    raise TypeError("log is not a string")
                stamp: str = entry["time"]
                stream = STDERR if entry.get("stream") == "stderr" else STDOUT
                ts = parse_time(stamp) if pending is None else 0
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError):
                bad += 1
                off += size
                continue
            if msg.endswith("\n"):
                if pending is None:
                    append((off, ts, stream, msg[:-1]))
                else:
                    pending.parts.append(msg[:-1])
                    append((off, pending.time, pending.stream, "".join(pending.parts)))
                    pending = None
            else:
                if pending is None:
                    pending = Pending(file, off, ts, stream)
                pending.parts.append(msg)
                pending.size += len(msg)
                pending.last = off
                pending.last_file = file
                if pending.size >= MAX_LINE:
                    append((off, pending.time, pending.stream, "".join(pending.parts)))
                    pending = None
            off += size
        self.pending = pending
        return Chunk(Lines.of(out), off - base, bad)

    def flush(self) -> tuple[str, Line] | None:
        """(file, line) of the incomplete line: the container stopped without a final newline."""
        pending, self.pending = self.pending, None
        if pending is None:
            return None
        return pending.last_file, (pending.last, pending.time, pending.stream, "".join(pending.parts))

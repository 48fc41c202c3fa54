"""Lines of one file in columns: what the reader hands to the store, with no Python object per line
but the message itself.

A read of 1 MiB holds about 8,000 small lines. As records (a tuple per line) they cost a tuple, an
offset and a time object each, built by the parser and taken apart again by the store; in columns
(offsets, times, streams, messages: one list each, made by `map` in C) the store takes each
column as it is. `Lines` is still a sequence of records (offset, time_ns, stream, message) for
whoever wants them one by one (the network sinks, the spool's encoding, the tests).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from typing import Any, overload

# (offset, time_ns, stream, message): a line's identity in its file, its time, stdout 0 / stderr 1, its text
Line = tuple[int, int, int, str]


class Lines:
    """Columns of lines, oldest first: offsets (strictly growing), times (ns), streams (None: all
    stdout) and messages."""

    __slots__ = ("offsets", "ts", "streams", "msgs")

    def __init__(self, offsets: list[int], ts: list[int], streams: list[int] | None, msgs: list[str]) -> None:
        self.offsets = offsets
        self.ts = ts
        self.streams = streams
        self.msgs = msgs

    @classmethod
    def of(cls, records: Iterable[Sequence[Any]]) -> Lines:
        """From records (tuples, or the lists a spool's JSON gives back)."""
        if isinstance(records, Lines):
            return records
        rows = list(records)
        if not rows:
            return cls([], [], None, [])
        offsets, ts, streams, msgs = (list(column) for column in zip(*rows, strict=True))
        return cls(offsets, ts, None if not any(streams) else streams, msgs)

    @classmethod
    def join(cls, parts: Sequence[Lines]) -> Lines:
        """One Lines of several, in order."""
        if len(parts) == 1:
            return parts[0]
        offsets: list[int] = []
        ts: list[int] = []
        msgs: list[str] = []
        stderr = any(p.streams is not None for p in parts)
        streams: list[int] | None = [] if stderr else None
        for p in parts:
            offsets += p.offsets
            ts += p.ts
            msgs += p.msgs
            if streams is not None:
                streams += p.streams if p.streams is not None else repeat(0, len(p.msgs))
        return cls(offsets, ts, streams, msgs)

    def stream_column(self) -> Iterable[int]:
        return repeat(0, len(self.msgs)) if self.streams is None else self.streams

    def after(self, offset: int) -> Lines:
        """The lines whose identity is past `offset` (what a replay adds to what is stored)."""
        return self[bisect_right(self.offsets, offset):]

    def __len__(self) -> int:
        return len(self.msgs)

    def __bool__(self) -> bool:
        return bool(self.msgs)

    def __iter__(self) -> Iterator[Line]:
        return zip(self.offsets, self.ts, self.stream_column(), self.msgs, strict=False)

    @overload
    def __getitem__(self, index: int) -> Line: ...

    @overload
    def __getitem__(self, index: slice) -> Lines: ...

    def __getitem__(self, index: int | slice) -> Line | Lines:
        if isinstance(index, slice):
            return Lines(self.offsets[index], self.ts[index],
                         None if self.streams is None else self.streams[index], self.msgs[index])
        stream = 0 if self.streams is None else self.streams[index]
        return (self.offsets[index], self.ts[index], stream, self.msgs[index])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Lines | list | tuple):
            return list(self) == [tuple(r) for r in other]
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Lines({list(self)!r})"


def as_lines(records: Lines | Iterable[Sequence[Any]]) -> Lines:
    return records if isinstance(records, Lines) else Lines.of(records)

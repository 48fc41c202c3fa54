"""Search the embedded store: newest first, or follow live; across every container of a service,
including containers that no longer exist. Used by `dockyard logs` and the server's API."""

from __future__ import annotations

import calendar
import heapq
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from dockyard.engine.rows import Scope
from dockyard.errors import UsageError
from dockyard.logs.blocks import decode, escaped, messages, times
from dockyard.logs.jsonfile import STREAM_NAMES, format_time

if TYPE_CHECKING:
    from dockyard.logs.store import LogStore

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Query:
    app: str | None = None
    env: str | None = None
    service: str | None = None
    container: str | None = None
    since_ns: int | None = None
    grep: str | None = None
    limit: int = 100
    scope: Scope = field(default_factory=Scope)  # one release, or these containers (logs ENV: the live release)


@dataclass(frozen=True)
class LogLine:
    id: int
    time: str
    time_ns: int
    stream: str
    message: str
    host: str
    container: str
    container_id: str
    app: str
    env: str
    service: str
    release: str

    def as_dict(self) -> dict[str, Any]:
        """The line in the JSON vocabulary (docs/json/logs.schema.json): release_id, null for absent."""
        out = asdict(self)
        release = out.pop("release")
        meta = ("host", "container", "container_id", "app", "env", "service")
        return {**{k: v or None if k in meta else v for k, v in out.items()}, "release_id": release or None}


def rfc3339_ns(stamp: str) -> int:
    """'2026-11-26T02:47:15.399713476Z' -> nanoseconds since the epoch."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    try:
        seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return 0
    return seconds * 1_000_000_000 + int((fraction + "000000000")[:9])


def matches(line: LogLine, grep: str | None, container: str | None = None) -> bool:
    """--grep: the text anywhere in the line, any case; --container: a task name or id prefix."""
    if container and not (line.container.startswith(container) or line.container_id.startswith(container)):
        return False
    return grep is None or grep.lower() in line.message.lower()


def parse_since(text: str, now: float | None = None) -> int:
    """'10m', '2h', '30s', '1d' -> nanoseconds since the epoch of that moment."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise UsageError(f"--since {text!r}: expected a duration like 30s, 10m, 2h or 1d")
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    return int(((now if now is not None else time.time()) - seconds) * 1e9)


def fts_query(grep: str) -> str | None:
    """The FTS5 pre-filter for --grep: each word as a prefix term (None: no word to index on)."""
    words = re.findall(r"\w+", grep)
    if not words:
        return None
    return " AND ".join(f'"{w}"*' for w in words)


# What a reader takes of a block, and of its container.
_COLUMNS = ("b.id, b.last, b.ts_max, b.streams, b.times, b.msgs, (b.id > (select upto from indexed)), "
            "c.host, c.name, c.cid, c.app, c.env, c.service, c.release")


def build_sql(q: Query, after_id: int | None = None) -> tuple[str, list[Any]]:
    """The SELECT of the candidate blocks of a query: by container, time range and the full-text index
    (blocks past its mark are candidates: not indexed yet). Pure, tested by equality of its text and
    parameters; the lines of each block are then filtered exactly (lines_of)."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("app", q.app), ("env", q.env), ("service", q.service)):
        if value:
            where.append(f"c.{column} = ?")
            params.append(value)
    if q.container:
        where.append("(c.name = ? or c.cid like ?)")
        params += [q.container, q.container + "%"]
    if q.scope.names is None and q.scope.release is not None:  # an accessory's lines have no release
        where.append("(c.release = ? or coalesce(c.release, '') = '')")
        params.append(q.scope.release)
    elif q.scope.names is not None:
        names = sorted(q.scope.names)
        where.append(f"c.name in ({', '.join('?' * len(names))})" if names else "0")
        params += names
    if q.since_ns is not None:
        where.append("b.ts_max >= ?")
        params.append(q.since_ns)
    if q.grep:
        match = fts_query(q.grep)
        if match:
            where.append("(b.id > (select upto from indexed) or b.id in "
                         "(select rowid from blocks_fts where blocks_fts match ?))")
            params.append(match)
        where.append("instr(b.msgs, ?) > 0")  # the block's JSON text holds the text (escaped as in JSON)
        params.append(escaped(q.grep))
    if after_id is not None:
        where.append("b.last > ?")
        params.append(after_id)
    order = "b.id asc" if after_id is not None else "b.ts_max desc, b.id desc"
    sql = (f"select {_COLUMNS} from blocks b join containers c on c.id = b.c"
           + (" where " + " and ".join(where) if where else "") + f" order by {order}")
    return sql, params


# A line as the readers handle it before it is shown: (ts, id, stream, message, the container's row)
Found = tuple[int, int, int, str, tuple[Any, ...]]


def lines_of(row: tuple[Any, ...], q: Query, after_id: int | None = None) -> list[Found]:
    """The lines of a candidate block (a row of build_sql's SELECT) that the query takes, oldest first."""
    first, _, _, stream_data, time_data, msgs, unindexed, *container = row
    lines = decode(first, stream_data, time_data, msgs)
    found: Iterable[Found] = zip(lines.ts, lines.offsets, lines.stream_column(), lines.msgs, repeat(tuple(container)),
                                 strict=False)
    if after_id is not None and first <= after_id:
        found = (f for f in found if f[1] > after_id)
    if q.since_ns is not None:
        since = q.since_ns
        found = (f for f in found if f[0] >= since)
    if q.grep:
        grep = q.grep
        found = (f for f in found if grep in f[3])
        if unindexed and fts_query(grep):
            words = word_starts(grep)
            found = (f for f in found if all(w.search(f[3]) for w in words))
    return list(found)


def newest_of(row: tuple[Any, ...], q: Query, limit: int, floor: int | None = None) -> list[Found]:
    """The `limit` newest lines of a candidate block (by time, then id) that a query without --grep
    takes, none older than `floor`: chosen by their times alone, so only those few become records
    (and a block with none has its messages left undecoded)."""
    first, _, _, stream_data, time_data, msgs, _, *container = row
    ts = times(time_data)
    places: Iterable[int] = range(len(ts) - 1, -1, -1)  # the newer id first among equal times
    if q.since_ns is not None:
        since = q.since_ns
        places = [i for i in places if ts[i] >= since]
    top = heapq.nlargest(limit, places, key=ts.__getitem__)
    if floor is not None:
        top = [i for i in top if ts[i] >= floor]
    if not top:
        return []
    texts = messages(msgs)
    kept = tuple(container)
    return [(ts[i], first + i, stream_data[i] if stream_data is not None else 0, texts[i], kept) for i in top]


def word_starts(grep: str) -> list[re.Pattern[str]]:
    """What the full-text index asks of a line of a block it does not hold yet: each word of --grep
    at the start of a word, in any case (as fts_query's prefix terms)."""
    return [re.compile(r"(?<![^\W_])" + re.escape(w), re.IGNORECASE) for w in re.findall(r"\w+", grep)]


def _line(found: Found) -> LogLine:
    ts, id_, stream, msg, (host, name, cid, app, env, service, release) = found
    return LogLine(id_, format_time(ts), ts, STREAM_NAMES[stream], msg, host or "", name or "", cid,
                   app or "", env or "", service or "", release or "")


def search(store: LogStore, q: Query) -> list[LogLine]:
    """Newest first (by time, then id): blocks by their newest time, until no block left can hold a
    line newer than the oldest of the `limit` lines kept."""
    if q.limit <= 0:
        return []
    sql, params = build_sql(q)
    pool: list[Found] = []
    floor: int | None = None  # the time of the limit-th newest line found so far (once there are that many)
    for row in store.select(sql, params):
        if floor is not None and row[2] < floor:
            break
        pool += lines_of(row, q) if q.grep else newest_of(row, q, q.limit, floor)
        if len(pool) >= 2 * q.limit or (floor is None and len(pool) >= q.limit):  # keep the pool small
            pool = heapq.nlargest(q.limit, pool, key=_TIME_ID)
            floor = pool[-1][0]
    return [_line(f) for f in heapq.nlargest(q.limit, pool, key=_TIME_ID)]


_TIME_ID = itemgetter(0, 1)


def last_id(store: LogStore) -> int:
    return store.last_id()


def newer(store: LogStore, q: Query, after_id: int, limit: int = 5000) -> list[LogLine]:
    """The lines stored after `after_id`, oldest first (at most `limit`)."""
    sql, params = build_sql(q, after_id)
    out: list[Found] = []
    for row in store.select(sql, params):
        out += lines_of(row, q, after_id)
        if len(out) >= limit:
            break
    return [_line(f) for f in out[:limit]]


def follow(store: LogStore, q: Query, after_id: int, interval: float = 0.5,
           until: float | None = None) -> Iterator[LogLine]:
    """Lines stored after `after_id`, oldest first, as they arrive (until the deadline, if any)."""
    limit = 5000
    while until is None or time.monotonic() < until:
        lines = newer(store, q, after_id, limit)
        for line in lines:
            after_id = line.id
            yield line
        if len(lines) < limit:
            time.sleep(interval)

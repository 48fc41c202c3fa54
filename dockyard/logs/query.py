"""Search the embedded store: newest first, or follow live; across every container of a service,
including containers that no longer exist. Used by `dockyard logs` and the server's API."""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from dockyard.engine.rows import Scope
from dockyard.errors import UsageError
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


def build_sql(q: Query, after_id: int | None = None) -> tuple[str, list[Any]]:
    """The SELECT for a query. Pure, tested by equality of its text and parameters."""
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
        where.append("l.ts >= ?")
        params.append(q.since_ns)
    if q.grep:
        match = fts_query(q.grep)
        if match:
            # the index finds blocks of lines; every line of a matching block is a candidate
            where.append("l.id in (select x.id from lines_fts f join fts_blocks b on b.first = f.rowid "
                         "join lines x on x.id between b.first and b.last where lines_fts match ?)")
            params.append(match)
        where.append("instr(l.msg, ?) > 0")
        params.append(q.grep)
    if after_id is not None:
        where.append("l.id > ?")
        params.append(after_id)
    order = "l.id asc" if after_id is not None else "l.ts desc, l.id desc"
    sql = ("select l.id, l.ts, l.stream, l.msg, c.host, c.name, c.cid, c.app, c.env, c.service, c.release "
           "from lines l join containers c on c.id = l.c"
           + (" where " + " and ".join(where) if where else "") + f" order by {order} limit ?")
    return sql, [*params, q.limit]


def _row(row: tuple[Any, ...]) -> LogLine:
    id_, ts, stream, msg, host, name, cid, app, env, service, release = row
    return LogLine(id_, format_time(ts), ts, STREAM_NAMES[stream], msg, host or "", name or "", cid,
                   app or "", env or "", service or "", release or "")


def search(store: LogStore, q: Query) -> list[LogLine]:
    """Newest first."""
    sql, params = build_sql(q)
    return [_row(r) for r in store.rows(sql, params)]


def last_id(store: LogStore) -> int:
    return store.last_id()


def newer(store: LogStore, q: Query, after_id: int, limit: int = 5000) -> list[LogLine]:
    """The lines stored after `after_id`, oldest first (at most `limit`)."""
    batch = replace(q, limit=limit)
    sql, params = build_sql(batch, after_id)
    return [_row(r) for r in store.rows(sql, params)]


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

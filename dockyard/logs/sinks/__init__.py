"""Sinks: where shipped lines go. Each sends batches and says what happened, by these rules:

- success: the batches are acknowledged (the spool may drop them);
- `Retryable` (connection refused or reset, 429, 5xx, a locked store): the same batches are sent
  again after a backoff, oldest first, for as long as it takes; nothing is dropped;
- a line the sink refuses for good (a 4xx about that line) is counted and recorded as rejected in
  `SendResult.rejected`, and the rest is acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from dockyard.errors import UsageError
from dockyard.logs.spool import Batch


class Retryable(Exception):
    """The sink cannot take the batches now; send them again later."""


@dataclass
class Rejected:
    cid: str
    lines: int
    reason: str


@dataclass
class SendResult:
    stored: int = 0
    rejected: list[Rejected] = field(default_factory=list)


class Sink(Protocol):
    name: str

    def send(self, batches: list[Batch]) -> SendResult: ...

    def close(self) -> None: ...


SINK_HELP = ("store | store:PATH | syslog+tcp://HOST:PORT | elasticsearch+http://HOST:PORT[/INDEX] | "
             "loki+http://HOST:PORT")


def store_path(spec: str, default_store: Path) -> Path | None:
    """The embedded store a sink spec names (`store` or `store:PATH`), or None for a network sink."""
    if spec == "store" or spec.startswith("store:"):
        return Path(spec[6:]) if spec[6:] else default_store
    return None


def open_sink(spec: str, default_store: Path) -> Sink:
    """A sink from its URL-like spec (see SINK_HELP)."""
    path = store_path(spec, default_store)
    if path is not None:
        from dockyard.logs.sinks.store import StoreSink

        return StoreSink(path)
    url = urlparse(spec)
    if url.scheme in ("syslog", "syslog+tcp") and url.hostname and url.port:
        from dockyard.logs.sinks.syslog import SyslogSink

        return SyslogSink(url.hostname, url.port)
    if url.scheme in ("elasticsearch+http", "elasticsearch+https", "es+http", "es+https") and url.hostname:
        from dockyard.logs.sinks.elastic import ElasticSink

        base = f"{url.scheme.split('+')[1]}://{url.netloc}"
        return ElasticSink(base, index=url.path.strip("/") or "dockyard-logs")
    if url.scheme in ("loki+http", "loki+https") and url.hostname:
        from dockyard.logs.sinks.loki import LokiSink

        return LokiSink(f"{url.scheme.split('+')[1]}://{url.netloc}")
    raise UsageError(f"unknown log sink {spec!r}", hint=f"use one of: {SINK_HELP}")

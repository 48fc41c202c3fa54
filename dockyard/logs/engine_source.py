"""`dockyard logs ENV` where no agent keeps a log store (issue 27): the engine's own logs of the
environment's containers, the way `kamal app logs` reads them. Only containers that still exist
have logs there; the agent's store also keeps those of removed ones, and searches them."""

from __future__ import annotations

import time
from collections.abc import Iterator

from dockyard.engine.interface import Engine
from dockyard.engine.rows import Scope
from dockyard.logs.query import LogLine, matches, rfc3339_ns


class EngineLogs:
    def __init__(self, engine: Engine, app: str, env: str, service: str | None, host: str,
                 scope: Scope | None = None) -> None:
        self.engine, self.app, self.env, self.service, self.host = engine, app, env, service, host
        self.scope = scope or Scope()

    def _lines(self, tail: int, since_ns: int | None) -> list[LogLine]:
        rows = [r for r in self.engine.observe(self.app, self.env)
                if self.service in (None, r.service) and self.scope.admits(r.release, r.name)]
        found = []
        for row in rows:
            since = since_ns / 1e9 if since_ns else None
            for stamp, stream, text in self.engine.container_lines(row.id, tail, since):
                found.append(LogLine(id=0, time=stamp, time_ns=rfc3339_ns(stamp), stream=stream, message=text,
                                     host=self.host, container=row.name, container_id=row.id[:12], app=self.app,
                                     env=self.env, service=row.service, release=row.release))
        return sorted(found, key=lambda line: line.time_ns)

    def recent(self, since_ns: int | None, grep: str | None, container: str | None, limit: int) -> list[LogLine]:
        """The newest `limit` matching lines, oldest first."""
        return [line for line in self._lines(limit, since_ns) if matches(line, grep, container)][-limit:]

    def follow(self, start_ns: int, grep: str | None, container: str | None, until: float | None = None,
               every: float = 1.0) -> Iterator[LogLine]:
        """New lines as they come (a poll a second), until `until` (time.monotonic()) if given."""
        last = start_ns  # the first moment not yet shown
        while until is None or time.monotonic() < until:
            for line in self._lines(1000, last):
                if line.time_ns >= last and matches(line, grep, container):
                    yield line
                last = max(last, line.time_ns + 1)
            time.sleep(every)

"""`dockyard logs` for a Swarm environment: the services' logs through the manager, from every node.

The host log store holds what this host's forwarder read, so on a Swarm it lacks the tasks of
other nodes. The manager gathers a service's task logs from each node's dockerd (json-file
driver), so this asks it: each line comes with its timestamp, node, task and stream.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator

from dockyard.engine.interface import Engine
from dockyard.engine.rows import Scope
from dockyard.engine.swarm_facts import NodeFact, ServiceFact
from dockyard.logs.query import LogLine, matches, rfc3339_ns

__all__ = ["SwarmLogs", "matches", "rfc3339_ns", "to_line"]

STREAMS = {1: "stdout", 2: "stderr"}


def parse_details(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split(",") if "=" in part)


def to_line(stream: int, payload: bytes, service: ServiceFact, nodes: dict[str, NodeFact],
            slots: dict[str, int]) -> LogLine | None:
    """Pure: one `<RFC3339 time> <details> <message>` line of a service's logs -> a LogLine."""
    text = payload.decode(errors="replace").rstrip("\n")
    stamp, _, rest = text.partition(" ")
    details, _, message = rest.partition(" ")
    attrs = parse_details(details)
    if not stamp or "com.docker.swarm.task.id" not in attrs:
        return None
    task = attrs["com.docker.swarm.task.id"]
    node = nodes.get(attrs.get("com.docker.swarm.node.id", ""))
    return LogLine(id=0, time=stamp, time_ns=rfc3339_ns(stamp), stream=STREAMS.get(stream, str(stream)),
                   message=message, host=node.hostname if node else attrs.get("com.docker.swarm.node.id", ""),
                   container=f"{service.name}.{slots.get(task, 0)}.{task}", container_id=task, app=service.app,
                   env=service.env, service=service.service, release=service.release)


class SwarmLogs:
    def __init__(self, engine: Engine, app: str, env: str, service: str | None = None,
                 scope: Scope | None = None) -> None:
        self.engine = engine
        self.scope = scope or Scope()
        self.services = [s for s in engine.services(app, env) if service in (None, s.service)
                         and self.scope.release in (None, s.release)]
        self.nodes = engine.nodes()
        tasks = engine.tasks([s.id for s in self.services])
        self.slots = {t.id: t.slot for t in tasks}

    def _stream(self, service: ServiceFact, since_ns: int | None, tail: int | str, follow: bool
                ) -> Iterator[LogLine]:
        for stream, payload in self.engine.service_log_frames(service.id, since_ns, tail, follow):
            line = to_line(stream, payload, service, self.nodes, self.slots)
            if line is not None and self.scope.admits(line.release, line.container):
                yield line

    def recent(self, since_ns: int | None, grep: str | None, container: str | None, limit: int) -> list[LogLine]:
        """The newest `limit` matching lines of every service, oldest first."""
        tail = "all" if grep or container else limit
        lines = [line for s in self.services for line in self._stream(s, since_ns, tail, follow=False)
                 if matches(line, grep, container)]
        return sorted(lines, key=lambda line: line.time_ns)[-limit:]

    def follow(self, since_ns: int, grep: str | None, container: str | None, until: float | None = None
               ) -> Iterable[LogLine]:
        """New matching lines of every service as they come (one reader thread per service)."""
        found: queue.Queue[LogLine] = queue.Queue()

        def read(service: ServiceFact) -> None:
            for line in self._stream(service, since_ns, "all", follow=True):
                if matches(line, grep, container):
                    found.put(line)

        for service in self.services:
            threading.Thread(target=read, args=(service,), daemon=True).start()
        while until is None or time.monotonic() < until:
            try:
                yield found.get(timeout=0.2)
            except queue.Empty:
                continue

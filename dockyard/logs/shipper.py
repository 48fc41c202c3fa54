"""One shipper per sink: take the oldest unacknowledged batches from the spool, send, retry with
backoff until the sink takes them, record rejected lines, acknowledge."""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass

from dockyard.logs.metrics import Metrics
from dockyard.logs.sinks import Retryable, Sink
from dockyard.logs.spool import Spool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    first: float = 0.1
    factor: float = 2.0
    cap: float = 5.0
    jitter: float = 0.2

    def delay(self, attempt: int) -> float:
        base = min(self.cap, self.first * self.factor ** attempt)
        return base * (1 + random.uniform(-self.jitter, self.jitter))


class Shipper:
    def __init__(self, key: str, sink: Sink, spool: Spool, metrics: Metrics, backoff: Backoff = Backoff(),
                 max_lines: int = 20000) -> None:
        self.key = key
        self.sink = sink
        self.spool = spool
        self.metrics = metrics
        self.backoff = backoff
        self.max_lines = max_lines
        self.last_error: str | None = None

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.ship_once(stop):
                self.spool.wait(0.1)

    def ship_once(self, stop: threading.Event) -> bool:
        """Send the next batches until the sink takes them; False when there was nothing to send."""
        batches = self.spool.next(self.key, max_lines=self.max_lines)
        if not batches:
            return False
        attempt = 0
        while True:
            try:
                result = self.sink.send(batches)
                break
            except Retryable as exc:
                reason = str(exc)
            except Exception as exc:  # a bug or an unexpected error: never drop, keep retrying
                log.exception("sink %s failed", self.key)
                reason = f"{type(exc).__name__}: {exc}"
            self.last_error = reason
            self.metrics.add("sink_retries", sink=self.key)
            self.metrics.set("sink_up", 0, sink=self.key)
            if stop.wait(self.backoff.delay(attempt)):
                return True
            attempt += 1
        for rejected in result.rejected:
            self.spool.record_reject(self.key, rejected.cid, rejected.lines, rejected.reason)
            self.metrics.add("lines_rejected", rejected.lines, sink=self.key)
        self.spool.ack(self.key, batches[-1].id)
        self.metrics.set("sink_up", 1, sink=self.key)
        self.metrics.add("lines_shipped", sum(len(b.lines) for b in batches), sink=self.key)
        return True

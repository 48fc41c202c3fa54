"""The embedded store as a sink: one SQLite transaction per send; a locked store is retried."""

from __future__ import annotations

from pathlib import Path

from dockyard.logs.sinks import Retryable, SendResult
from dockyard.logs.spool import Batch
from dockyard.logs.store import LogStore, StoreBusy


class StoreSink:
    def __init__(self, path: Path, busy_timeout: float = 1.0) -> None:
        self.name = f"store:{path}"
        self.path = path
        self.store = LogStore(path, busy_timeout=busy_timeout)

    def send(self, batches: list[Batch]) -> SendResult:
        try:
            return SendResult(stored=self.store.write(batches))
        except StoreBusy as exc:
            raise Retryable(f"log store {self.path}: {exc}") from exc

    def close(self) -> None:
        self.store.close()

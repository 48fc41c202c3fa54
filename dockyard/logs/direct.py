"""Direct mode: when the embedded store is the only sink, read lines go straight into the store.

The lines of a read turn, the read positions past them and the store's de-duplication marks are
committed in ONE SQLite transaction of the store: a position is durable exactly when its lines
are, so a crash replays nothing that was stored and skips nothing that was not (exactly once, by
construction). There is no spool round trip (encode, write, read back, decode, delete): every
line is written once instead of twice. Back-pressure is the store itself: while it is locked,
the reader retries the same turn with backoff and reads nothing more (bounded memory, no drop).

The network sinks (syslog, Elasticsearch, Loki) keep the disk spool: they are slow or away for
a long time, and the spool's size bound and pause are what keep the reader from running ahead.
"""

from __future__ import annotations

from pathlib import Path

from dockyard.logs.sinks import Retryable
from dockyard.logs.spool import Append, Spool, SpoolStats
from dockyard.logs.store import LogStore, StoreBusy
from dockyard.logs.tailer import Loss, Position


class StoreJournal:
    """The reader side of the spool (append, positions, losses), kept in the log store itself."""

    key = "store"
    full = False  # the store has no size bound of its own; a locked store blocks append() instead

    def __init__(self, store: LogStore) -> None:
        self.store = store

    def append(self, items: list[Append]) -> int:
        """Store the lines and move the positions past them, in one transaction; new lines stored."""
        batches = [i.batch for i in items if i.batch is not None and i.batch.lines]
        positions = [(i.cid, i.position.file, i.position.offset) for i in items if i.position]
        try:
            return self.store.write(batches, positions)
        except StoreBusy as exc:
            raise Retryable(f"log store {self.store.path}: {exc}") from exc

    def index(self, budget: int) -> int:
        """Build the store's full-text index over about `budget` characters of lines not indexed yet
        (store.py: the forwarder's store indexes lazily); 0 when it is complete or the store is busy."""
        try:
            return self.store.index(budget)
        except StoreBusy:
            return 0

    @property
    def unindexed(self) -> int:
        """Characters of text stored and not indexed yet."""
        return self.store.unindexed

    def positions(self) -> dict[str, Position]:
        return self.store.positions()

    def forget(self, cid: str) -> None:
        self.store.forget(cid)

    def record_loss(self, loss: Loss) -> None:
        self.store.record_loss(loss)

    def stats(self) -> SpoolStats:
        return SpoolStats()

    def close(self) -> None:
        self.store.close()


def take_over_spool(spool_path: Path, store: LogStore) -> int:
    """Switching to direct mode: ship what the spool still holds for the store, then move the read
    positions into the store (same transaction as the last lines) and empty the spool's copy.

    Idempotent: a crash half-way leaves the spool as it was, and the store's marks keep a
    second shipment from storing anything twice. Returns the lines stored.
    """
    if not spool_path.exists():
        return 0
    spool = Spool(spool_path, [StoreJournal.key])
    try:
        stored = 0
        while batches := spool.next(StoreJournal.key):
            stored += store.write(batches)
            spool.ack(StoreJournal.key, batches[-1].id)
        moved = [(cid, p.file, p.offset) for cid, p in spool.positions().items()]
        if moved:
            store.write([], moved)
            spool.clear_positions()
        return stored
    finally:
        spool.close()


def hand_back_positions(store_path: Path, spool: Spool) -> None:
    """Switching from direct mode to the spool (a network sink was added): the positions move to
    the spool, so reading resumes where the store's lines end (the lines are in the store already)."""
    if not store_path.exists():
        return
    store = LogStore(store_path)
    try:
        rows = store.position_rows()
        if not rows:
            return
        spool.put_positions(rows)
        store.clear_positions()
    finally:
        store.close()

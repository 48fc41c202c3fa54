"""The forwarder: follow every container's json-file logs, enrich, spool, ship to every sink.

With the embedded store as its only sink (the default), lines go straight into the store with
their read positions, in one transaction (direct mode, see direct.py); with any network sink,
they go through the disk spool and a shipper per sink.

A component for `dockyard agent` (start()/stop(), or run(stop_event) in a thread of its own)
and a process of its own (`dockyard forwarder run`, also in a container with the host's
/var/lib/docker/containers mounted read-only).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.logs.direct import StoreJournal, hand_back_positions, take_over_spool
from dockyard.logs.discovery import container_ids
from dockyard.logs.edge_metrics import EdgeMetrics
from dockyard.logs.edge_source import EDGE_SOURCE, EdgeAccessLog, EdgeLogConfig
from dockyard.logs.enrich import Event, Processor, container_chain, tags_for
from dockyard.logs.meta import ContainerMeta, config_mtime, matches, read_meta
from dockyard.logs.metrics import Metrics
from dockyard.logs.paths import default_state_dir
from dockyard.logs.shipper import Backoff, Shipper
from dockyard.logs.sinks import Retryable, Sink, open_sink, store_path
from dockyard.logs.spool import Append, Batch, Spool
from dockyard.logs.store import CACHE_KIB, INDEX_LAG, LogStore
from dockyard.logs.tailer import Loss, Read, Tailer

if TYPE_CHECKING:
    from dockyard.engine.events import EventWatcher

log = logging.getLogger(__name__)

DOCKER_ROOT = Path("/var/lib/docker/containers")


@dataclass
class ForwarderConfig:
    containers_root: Path = DOCKER_ROOT
    state_dir: Path = field(default_factory=default_state_dir)
    sinks: list[str] = field(default_factory=lambda: ["store"])
    selectors: dict[str, str | None] = field(default_factory=dict)  # label selectors; empty: all
    host: str | None = None  # the host tag; default: the engine's name, else this machine's
    docker_host: str | None = "unix:///var/run/docker.sock"  # None: no event stream, folder scans only
    spool_max_bytes: int = 256 << 20
    turn_bytes: int = 8 << 20  # read at most this much per turn before writing (spool or store)
    scan_interval: float = 1.0
    refresh_interval: float = 0.2
    # A container that wrote nothing for `idle_after` s is polled and its rotation chain re-scanned
    # less often (files only rotate while being written): 100 idle containers cost little.
    idle_after: float = 2.0
    idle_read_interval: float = 0.5
    idle_refresh_interval: float = 1.0
    # After a turn that read every file to its end, lines are let gather this long before the next
    # one: a trickle from many containers costs one turn (and one commit) per gather, not one per
    # line (issue 30: the agent under 1 % of a core). A turn cut short by turn_bytes goes on at once.
    gather: float = 0.25
    # The store's full-text index is built while the reader waits for lines (gather), a step of this
    # many characters of text at a time (~20-50 ms); while it reads without waiting, only past INDEX_LAG.
    index_step: int = 1 << 20
    store_cache_kib: int = CACHE_KIB  # the store's page cache: resident memory that grows with the store
    synchronous: str = "NORMAL"
    direct: bool = True  # the store as the only sink: write into it directly, no spool
    edge: EdgeLogConfig | None = None  # the host edge's access log, read beside the containers' logs
    backoff: Backoff = field(default_factory=Backoff)

    @property
    def store_path(self) -> Path:
        return self.state_dir / "store.db"

    @property
    def spool_path(self) -> Path:
        return self.state_dir / "spool.db"


@dataclass
class Followed:
    meta: ContainerMeta
    tags: Event
    mtime: float | None
    tailer: Tailer | None = None  # None: parked (stopped and read to the end)


class Forwarder:
    name = "log-forwarder"  # a component of `dockyard agent`

    def __init__(self, config: ForwarderConfig, sinks: dict[str, Sink] | None = None) -> None:
        self.config = config
        self.metrics = Metrics()
        stores = [p for p in (store_path(s, config.store_path) for s in config.sinks) if p is not None]
        self.journal: Spool | StoreJournal
        if sinks is None and config.direct and len(config.sinks) == 1 and stores:
            store = LogStore(stores[0], busy_timeout=1.0, synchronous=config.synchronous,
                             cache_kib=config.store_cache_kib, background_checkpoints=True, lazy_index=True)
            take_over_spool(config.spool_path, store)  # lines a spooled run left for the store
            self.journal, self.sinks, self.shippers = StoreJournal(store), {}, []
        else:
            self.sinks = sinks if sinks is not None else {s: open_sink(s, config.store_path) for s in config.sinks}
            spool = Spool(config.spool_path, list(self.sinks), config.spool_max_bytes, config.synchronous)
            for path in {config.store_path, *stores}:
                hand_back_positions(path, spool)  # a direct run's positions, if it was one
            self.journal = spool
            self.shippers = [Shipper(k, s, spool, self.metrics, config.backoff) for k, s in self.sinks.items()]
        self._held: tuple[list[Append], list[str]] | None = None  # a turn the store did not take yet
        self._retry_at = 0.0
        self._attempt = 0
        self.last_error: str | None = None
        self.followed: dict[str, Followed] = {}
        self.ignored: set[str] = set()
        self.wake = threading.Event()
        self.chain: list[Processor] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watcher: EventWatcher | None = None
        self._paused = False
        self.edge: EdgeAccessLog | None = None
        self.edge_metrics = EdgeMetrics(config.host or socket.gethostname())  # for the agent's /metrics

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Run in background threads (beside the metrics loop of `dockyard agent`)."""
        self._stop.clear()
        self._threads = [threading.Thread(target=self.run, args=(self._stop,), name="log-forwarder", daemon=True)]
        self._threads[0].start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set: the reader here, one thread per sink, one for engine events."""
        host = self.config.host
        if self.config.docker_host:  # docker-py only with an engine to watch (not for folder scans alone)
            from dockyard.engine.events import EventWatcher, engine_host_name
        if host is None and self.config.docker_host:
            host = engine_host_name(self.config.docker_host)
        self.chain = container_chain(host)
        if host:
            self.edge_metrics.host = host
        if self.config.edge is not None:
            self.edge = EdgeAccessLog(self.config.edge, self.journal.positions().get(EDGE_SOURCE), self._loss,
                                      self.edge_metrics.host, self.edge_metrics)
        threads = [threading.Thread(target=s.run, args=(stop,), name=f"ship-{s.key}", daemon=True)
                   for s in self.shippers]
        if self.config.docker_host:
            self._watcher = EventWatcher(self.config.docker_host, self.wake)
            threads.append(threading.Thread(target=self._watcher.run, args=(stop,), name="docker-events",
                                            daemon=True))
        for thread in threads:
            thread.start()
        try:
            self._read_loop(stop)
        finally:
            stop.set()
            if self._watcher:
                self._watcher.close()
            for thread in threads[: len(self.shippers)]:
                thread.join(30)
            for followed in self.followed.values():
                if followed.tailer:
                    followed.tailer.close()
            if self.edge:
                self.edge.close()
            for sink in self.sinks.values():
                sink.close()
            self.journal.close()

    # ---------------------------------------------------------------- reading

    def _read_loop(self, stop: threading.Event) -> None:
        self._report_vanished()
        next_scan = next_refresh = next_idle_refresh = next_idle_read = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_scan or self.wake.is_set():
                self.wake.clear()
                self._scan()
                next_scan = now + self.config.scan_interval
            if now >= next_refresh:
                # While a turn is held (store locked, spool full) nothing is read, so nothing looks
                # busy, but the containers go on writing and rotating: re-scan every chain then.
                everyone = now >= next_idle_refresh or self._held is not None or self.journal.full
                for followed in self.followed.values():
                    if followed.tailer and (everyone or self._busy(followed.tailer, now)):
                        followed.tailer.refresh()
                next_refresh = now + self.config.refresh_interval
                if now >= next_idle_refresh:
                    next_idle_refresh = now + self.config.idle_refresh_interval
                if self.edge and self.edge.refresh():
                    self.metrics.add("edge_rotations", 1)
            self._update_gauges()
            if self._held is not None:  # the store was locked: retry that turn, read nothing more
                if now >= self._retry_at:
                    self._commit(stop)
                if self._held is not None:
                    stop.wait(0.05)
                    continue
            if self.journal.full:
                if not self._paused:
                    self._paused = True
                    self.metrics.add("spool_full_pauses")
                    self.metrics.set("spool_full", 1)
                stop.wait(0.05)
                continue
            if self._paused:
                self._paused = False
                self.metrics.set("spool_full", 0)
            idle_too = now >= next_idle_read
            if idle_too:
                next_idle_read = now + self.config.idle_read_interval
            read = self._read_turn(stop, idle_too)
            if read and read >= self.config.turn_bytes // 4:  # more to read at once
                while self.index_lag > INDEX_LAG and self._index_step():  # the index stays within its lag
                    pass
                continue
            # Every file was read to its end: the full-text index's turn, then the wait (gather) for more
            # lines; the same after a turn that found none: a host of quiet containers is not polled 20
            # times a second, and a line waits at most a gather, as it does while lines flow.
            deadline = time.monotonic() + self.config.gather
            while time.monotonic() < deadline and self._index_step():
                pass
            stop.wait(max(0.0, deadline - time.monotonic()))

    @property
    def index_lag(self) -> int:
        """Characters of stored text the store's full-text index does not hold yet (direct mode)."""
        return self.journal.unindexed if isinstance(self.journal, StoreJournal) else 0

    def _index_step(self) -> int:
        """Index a step of what the store holds unindexed (direct mode); 0 when there is nothing to do."""
        if not isinstance(self.journal, StoreJournal) or not self.journal.unindexed:
            return 0
        return self.journal.index(self.config.index_step)

    def _busy(self, tailer: Tailer, now: float) -> bool:
        """Lines came lately, or its last read did not reach the end of its files: a container whose
        lines wait for their turn (turn_bytes went to others) is busy, not idle, however long it waits."""
        return not tailer.at_eof or now - tailer.last_data < self.config.idle_after

    def _read_turn(self, stop: threading.Event, idle_too: bool = True) -> int:
        """One turn over the files (busy ones, every one with `idle_too`); the bytes it read."""
        appends: list[Append] = []
        forget: list[str] = []
        total = 0
        now = time.monotonic()
        for cid, followed in list(self.followed.items()):
            tailer = followed.tailer
            if tailer is None or not (idle_too or self._busy(tailer, now)):
                continue
            taken = 0
            while taken < self.config.turn_bytes // 4 and total < self.config.turn_bytes:
                read = tailer.read()
                if read is None:
                    break
                appends.append(self._append(cid, followed, read))
                taken += read.bytes
                total += read.bytes
            if tailer.at_eof and (tailer.removed or not followed.meta.running):
                flushed = tailer.flush()
                if flushed:
                    appends.append(self._append(cid, followed, flushed))
                tailer.close()
                followed.tailer = None
                if tailer.removed:
                    forget.append(cid)
        while self.edge is not None and total < self.config.turn_bytes:
            edge_read = self.edge.read()
            if edge_read is None:
                break
            appends += edge_read.appends
            total += edge_read.bytes
            self.metrics.add("edge_bytes_read", edge_read.bytes)
            if edge_read.bad:
                self.metrics.add("bad_lines", edge_read.bad)
        self._held = (appends, forget)
        self._commit(stop)
        return max(total, 1) if appends else 0

    def _commit(self, stop: threading.Event) -> None:
        """Write the held turn (lines + positions) to the journal; keep it held while the store is locked.
        Refreshes and scans go on meanwhile, so files rotated during an outage are held open."""
        assert self._held is not None
        appends, forget = self._held
        try:
            if appends:
                stored = self.journal.append(appends)
                if isinstance(self.journal, StoreJournal):
                    self.metrics.add("lines_shipped", stored, sink=self.journal.key)
                    self.metrics.set("sink_up", 1, sink=self.journal.key)
        except Retryable as exc:
            self.last_error = str(exc)
            self.metrics.add("sink_retries", sink=StoreJournal.key)
            self.metrics.set("sink_up", 0, sink=StoreJournal.key)
            self._retry_at = time.monotonic() + self.config.backoff.delay(self._attempt)
            self._attempt += 1
            return
        self._held, self._attempt = None, 0
        for cid in forget:  # removed containers: only once their last lines are committed
            self.journal.forget(cid)
            del self.followed[cid]

    def _append(self, cid: str, followed: Followed, read: Read) -> Append:
        self.metrics.add("lines_read", len(read.lines))
        self.metrics.add("bytes_read", read.bytes)
        if read.bad:
            self.metrics.add("bad_lines", read.bad)
        return Append(cid, read.position, Batch(cid, read.file, followed.tags, read.lines))

    # ---------------------------------------------------------------- containers

    def _scan(self) -> None:
        root = self.config.containers_root
        present = container_ids(root)
        positions = None
        for cid in present - self.followed.keys() - self.ignored:
            meta = read_meta(root / cid, cid)
            if meta is None:
                continue  # not written yet: next scan
            if not matches(meta, self.config.selectors):
                self.ignored.add(cid)
                continue
            positions = positions if positions is not None else self.journal.positions()
            followed = Followed(meta, tags_for(meta, self.chain), config_mtime(root / cid))
            followed.tailer = Tailer(cid, root / cid, positions.get(cid), self._loss)
            self.followed[cid] = followed
        self.ignored &= present
        for cid, followed in list(self.followed.items()):
            mtime = config_mtime(root / cid)
            changed = False  # started or stopped since the last look: its log may have new lines
            if mtime is not None and mtime != followed.mtime:
                meta = read_meta(root / cid, cid)
                if meta is not None:
                    followed.meta, followed.mtime = meta, mtime
                    followed.tags = tags_for(meta, self.chain)
                    changed = True
            if followed.tailer is None and self._held is None:  # parked; not while a turn is held
                if cid not in present:
                    self.journal.forget(cid)
                    del self.followed[cid]
                elif followed.meta.running or changed:
                    # a container that started, wrote and ended between two looks (a one-off task) is
                    # read to its end all the same, from where it was left
                    start = self.journal.positions().get(cid)
                    followed.tailer = Tailer(cid, root / cid, start, self._loss)

    def _report_vanished(self) -> None:
        """Containers with a saved position whose folder is gone: removed while we were down."""
        present = container_ids(self.config.containers_root)
        for cid, position in self.journal.positions().items():
            if cid not in present and cid != EDGE_SOURCE:
                self._loss(Loss(cid, f"container removed while the forwarder was not running; lines after "
                                     f"byte {position.offset} of {position.file} (if any) are lost"))
                self.journal.forget(cid)

    def _loss(self, loss: Loss) -> None:
        log.warning("log loss: %s: %s", loss.cid[:12], loss.what)
        self.metrics.add("losses")
        self.journal.record_loss(loss)

    def _update_gauges(self) -> None:
        stats = self.journal.stats()
        self.metrics.set("spool_bytes", stats.bytes)
        self.metrics.set("spool_lines", stats.lines)
        self.metrics.set("containers", sum(1 for f in self.followed.values() if f.tailer))

    # ---------------------------------------------------------------- reports

    def status(self) -> dict[str, Any]:
        stats = self.journal.stats()
        sinks = {s.key: {"last_error": s.last_error} for s in self.shippers}
        if isinstance(self.journal, StoreJournal):
            sinks[self.journal.key] = {"last_error": self.last_error}
        return {"pid": os.getpid(), "metrics": self.metrics.snapshot(), "direct": not self.shippers,
                "spool": {"batches": stats.batches, "bytes": stats.bytes, "lines": stats.lines},
                "sinks": sinks}

"""Typed facts the monitor reads, and the sample it publishes per container.

Readers return these; the collector combines them into one `Sample` per container per sweep.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_LISTEN = "127.0.0.1:9180"  # where the host agent answers (dockyard agent --listen)


@dataclass(frozen=True)
class CpuStats:
    usage_ns: int  # total CPU time of the cgroup
    user_ns: int = 0
    system_ns: int = 0
    nr_periods: int = 0
    nr_throttled: int = 0
    throttled_ns: int = 0


@dataclass(frozen=True)
class MemoryStats:
    usage_bytes: int
    limit_bytes: int | None  # None: no limit
    inactive_file_bytes: int = 0
    rss_bytes: int = 0
    cache_bytes: int = 0
    oom_kills: int = 0

    @property
    def working_set_bytes(self) -> int:
        """What `docker stats` and the kubelet call memory use: usage - inactive_file."""
        return max(0, self.usage_bytes - self.inactive_file_bytes)


@dataclass(frozen=True)
class IoStats:
    read_bytes: int = 0
    write_bytes: int = 0
    read_ops: int = 0
    write_ops: int = 0


@dataclass(frozen=True)
class NetStats:
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_packets: int = 0
    tx_packets: int = 0
    rx_errors: int = 0
    tx_errors: int = 0


@dataclass(frozen=True)
class Listener:
    """A socket listening inside a container's network namespace."""

    proto: str  # tcp | udp
    port: int
    address: str


@dataclass(frozen=True)
class Probe:
    """The result of probing one discovered service from outside the container."""

    container: str
    port: int  # the container port
    host_port: int
    proto: str
    kind: str  # tcp | http
    ok: bool
    latency_s: float
    detail: str = ""
    at: float = 0.0


@dataclass
class Sample:
    """One container in one sweep: the row of `dockyard stats --json` and the labels of /metrics."""

    id: str
    name: str
    app: str = ""
    env: str = ""
    service: str = ""
    state: str = "running"  # running | down
    up: bool = True
    cpu_percent: float = 0.0
    cpu_seconds: float = 0.0
    cpu_throttled_seconds: float = 0.0
    memory_bytes: int = 0
    memory_usage_bytes: int = 0
    memory_limit_bytes: int | None = None
    net_rx_bytes: int = 0
    net_tx_bytes: int = 0
    blkio_read_bytes: int = 0
    blkio_write_bytes: int = 0
    disk_bytes: int | None = None
    disk_rw_bytes: int | None = None
    disk_log_bytes: int | None = None
    pids: int = 0
    restarts: int = 0
    oom_kills: int = 0
    at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("extra")
        return data


STATS_FIELDS = ("app", "env", "service", "name", "cpu_percent", "memory_bytes", "memory_limit_bytes",
                "net_rx_bytes", "net_tx_bytes", "blkio_read_bytes", "blkio_write_bytes", "disk_bytes")

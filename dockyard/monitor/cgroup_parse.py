"""Pure parsers for cgroup v1 and v2 files: text in, typed numbers out. No I/O here.

v1 (cgroupfs or systemd driver): cpuacct.usage, cpu.stat, memory.usage_in_bytes,
memory.limit_in_bytes, memory.stat, memory.oom_control, blkio.throttle.io_service_bytes_recursive,
pids.current. v2: cpu.stat, memory.current, memory.max, memory.stat, memory.events, io.stat, pids.current.
"""

from __future__ import annotations

from dockyard.monitor.model import CpuStats, IoStats, MemoryStats

# v1 reports "no limit" as a huge page-aligned number (PAGE_COUNTER_MAX * PAGE_SIZE).
V1_UNLIMITED = 1 << 60


def parse_flat_keyed(text: str) -> dict[str, int]:
    """'key value' per line (memory.stat, cpu.stat, memory.events, oom_control) -> dict."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value:
            try:
                out[key] = int(value)
            except ValueError:
                continue
    return out


def pick(text: str, keys: tuple[str, ...]) -> dict[str, int]:
    """Only `keys` of a flat-keyed file; cheaper than parsing all of a 40-line memory.stat each sweep."""
    out: dict[str, int] = {}
    for key in keys:
        at = text.find(key + " ")
        while at > 0 and text[at - 1] != "\n":
            at = text.find(key + " ", at + 1)
        if at >= 0:
            end = text.find("\n", at)
            out[key] = int(text[at + len(key) + 1:end if end >= 0 else None])
    return out


V1_MEMORY_KEYS = ("total_inactive_file", "inactive_file", "total_rss", "rss", "total_cache", "cache")
V2_MEMORY_KEYS = ("inactive_file", "anon", "file")


def parse_int(text: str) -> int:
    """A file holding one integer (cpuacct.usage, memory.usage_in_bytes, pids.current)."""
    return int(text.strip() or 0)


def parse_limit(text: str) -> int | None:
    """memory.limit_in_bytes (v1) or memory.max / pids.max (v2): None when unlimited."""
    raw = text.strip()
    if raw in ("", "max"):
        return None
    value = int(raw)
    return None if value >= V1_UNLIMITED else value


# ---------------------------------------------------------------- v1


def v1_cpu(usage_text: str, cpu_stat_text: str = "", cpuacct_stat_text: str = "",
           user_hz: int = 100) -> CpuStats:
    throttle = parse_flat_keyed(cpu_stat_text)
    ticks = parse_flat_keyed(cpuacct_stat_text)
    tick_ns = 1_000_000_000 // user_hz
    return CpuStats(
        usage_ns=parse_int(usage_text),
        user_ns=ticks.get("user", 0) * tick_ns,
        system_ns=ticks.get("system", 0) * tick_ns,
        nr_periods=throttle.get("nr_periods", 0),
        nr_throttled=throttle.get("nr_throttled", 0),
        throttled_ns=throttle.get("throttled_time", 0),
    )


def v1_memory(usage_text: str, limit_text: str, stat_text: str, oom_control_text: str = "") -> MemoryStats:
    stat = pick(stat_text, V1_MEMORY_KEYS)
    oom = pick(oom_control_text, ("oom_kill",))
    return MemoryStats(
        usage_bytes=parse_int(usage_text),
        limit_bytes=parse_limit(limit_text),
        inactive_file_bytes=stat.get("total_inactive_file", stat.get("inactive_file", 0)),
        rss_bytes=stat.get("total_rss", stat.get("rss", 0)),
        cache_bytes=stat.get("total_cache", stat.get("cache", 0)),
        oom_kills=oom.get("oom_kill", 0),
    )


def v1_blkio(service_bytes_text: str, serviced_text: str = "") -> IoStats:
    """blkio.throttle.io_service_bytes_recursive ('MAJ:MIN Read N' lines), summed over devices."""

    def sums(text: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3:
                out[parts[1]] = out.get(parts[1], 0) + int(parts[2])
        return out

    done, ops = sums(service_bytes_text), sums(serviced_text)
    return IoStats(read_bytes=done.get("Read", 0), write_bytes=done.get("Write", 0),
                   read_ops=ops.get("Read", 0), write_ops=ops.get("Write", 0))


# ---------------------------------------------------------------- v2


def v2_cpu(cpu_stat_text: str) -> CpuStats:
    stat = parse_flat_keyed(cpu_stat_text)
    return CpuStats(
        usage_ns=stat.get("usage_usec", 0) * 1000,
        user_ns=stat.get("user_usec", 0) * 1000,
        system_ns=stat.get("system_usec", 0) * 1000,
        nr_periods=stat.get("nr_periods", 0),
        nr_throttled=stat.get("nr_throttled", 0),
        throttled_ns=stat.get("throttled_usec", 0) * 1000,
    )


def v2_memory(current_text: str, max_text: str, stat_text: str, events_text: str = "") -> MemoryStats:
    stat = pick(stat_text, V2_MEMORY_KEYS)
    events = pick(events_text, ("oom_kill",))
    return MemoryStats(
        usage_bytes=parse_int(current_text),
        limit_bytes=parse_limit(max_text),
        inactive_file_bytes=stat.get("inactive_file", 0),
        rss_bytes=stat.get("anon", 0),
        cache_bytes=stat.get("file", 0),
        oom_kills=events.get("oom_kill", 0),
    )


def v2_io(io_stat_text: str) -> IoStats:
    """io.stat: 'MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...' per device, summed."""
    totals = {"rbytes": 0, "wbytes": 0, "rios": 0, "wios": 0}
    for line in io_stat_text.splitlines():
        for pair in line.split()[1:]:
            key, _, value = pair.partition("=")
            if key in totals and value.isdigit():
                totals[key] += int(value)
    return IoStats(read_bytes=totals["rbytes"], write_bytes=totals["wbytes"], read_ops=totals["rios"],
                   write_ops=totals["wios"])


def v2_cpu_limit(cpu_max_text: str) -> float | None:
    """cpu.max 'QUOTA PERIOD' -> cores, None when 'max'."""
    quota, _, period = cpu_max_text.strip().partition(" ")
    if quota == "max" or not period:
        return None
    return int(quota) / int(period)


def v1_cpu_limit(quota_text: str, period_text: str) -> float | None:
    quota = parse_int(quota_text)
    return None if quota <= 0 else quota / parse_int(period_text)


# ---------------------------------------------------------------- one sweep's figures, in one pass

# What a sweep publishes of a container, as plain numbers (the agent reads 50 containers a second:
# the typed stats above cost more to build than the files cost to read, issue 30):
# (cpu usage ns, cpu throttled ns, memory usage, memory limit or None, inactive file bytes, OOM kills,
# bytes read, bytes written, pids).
Figures = tuple[int, int, int, "int | None", int, int, int, int, int]

# The files of a sweep, in the order the `*_figures` functions take their texts.
V1_FILES = ("cpuacct.usage", "cpu.stat", "memory.usage_in_bytes", "memory.limit_in_bytes", "memory.stat",
            "memory.oom_control", "blkio", "pids.current")
V2_FILES = ("cpu.stat", "memory.current", "memory.max", "memory.stat", "memory.events", "io.stat", "pids.current")


def value(text: str, key: str, default: int = 0) -> int:
    """One key of a flat-keyed file ('key value' lines); `default` when absent."""
    probe = key + " "
    at = text.find(probe)
    while at > 0 and text[at - 1] != "\n":
        at = text.find(probe, at + 1)
    if at < 0:
        return default
    end = text.find("\n", at)
    return int(text[at + len(probe):end if end >= 0 else None])


def v1_figures(texts: list[str]) -> Figures:
    """The figures from the texts of V1_FILES (an absent file's text is ''): the same numbers as
    v1_cpu, v1_memory, v1_blkio and parse_int give."""
    usage, cpu_stat, mem_usage, limit, stat, oom, blkio, pids = texts
    inactive = value(stat, "total_inactive_file", -1)
    read = write = 0
    for line in blkio.splitlines():
        parts = line.split()
        if len(parts) == 3:
            if parts[1] == "Read":
                read += int(parts[2])
            elif parts[1] == "Write":
                write += int(parts[2])
    return (parse_int(usage), value(cpu_stat, "throttled_time"), parse_int(mem_usage), parse_limit(limit),
            inactive if inactive >= 0 else value(stat, "inactive_file"), value(oom, "oom_kill"), read, write,
            parse_int(pids) if pids else 0)


def v2_figures(texts: list[str]) -> Figures:
    """The figures from the texts of V2_FILES: the same numbers as v2_cpu, v2_memory, v2_io."""
    cpu_stat, current, limit, stat, events, io, pids = texts
    io_stat = v2_io(io)
    return (value(cpu_stat, "usage_usec") * 1000, value(cpu_stat, "throttled_usec") * 1000, parse_int(current),
            parse_limit(limit), value(stat, "inactive_file"), value(events, "oom_kill"), io_stat.read_bytes,
            io_stat.write_bytes, parse_int(pids) if pids else 0)

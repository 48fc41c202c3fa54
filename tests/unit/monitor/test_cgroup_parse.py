from __future__ import annotations

from dockyard.monitor import cgroup_parse as P


def test_v1_cpu_from_captured_files(fixture_text) -> None:
    cpu = P.v1_cpu(fixture_text("v1/cpuacct.usage"), fixture_text("v1/cpu.stat"), fixture_text("v1/cpuacct.stat"))
    assert cpu.usage_ns == int(fixture_text("v1/cpuacct.usage"))
    stat = P.parse_flat_keyed(fixture_text("v1/cpu.stat"))
    assert cpu.nr_periods == stat["nr_periods"] and cpu.throttled_ns == stat["throttled_time"]


def test_v1_memory_working_set_is_usage_minus_inactive_file(fixture_text) -> None:
    mem = P.v1_memory(fixture_text("v1/memory.usage_in_bytes"), fixture_text("v1/memory.limit_in_bytes"),
                      fixture_text("v1/memory.stat"), fixture_text("v1/memory.oom_control"))
    assert mem.limit_bytes == 64 * 1024 * 1024
    assert mem.inactive_file_bytes == 8388608  # the 8 MiB the container wrote to /tmp
    assert mem.working_set_bytes == int(fixture_text("v1/memory.usage_in_bytes")) - 8388608
    assert mem.oom_kills == 0 and mem.cache_bytes == 8495104 and mem.rss_bytes == 159744


def test_v1_unlimited_memory_is_none() -> None:
    assert P.parse_limit("9223372036854771712\n") is None
    assert P.parse_limit("max\n") is None
    assert P.parse_limit("33554432\n") == 33554432


def test_v1_blkio_sums_devices(fixture_text) -> None:
    io = P.v1_blkio(fixture_text("v1/handwritten/blkio.throttle.io_service_bytes_recursive"))
    assert (io.read_bytes, io.write_bytes) == (1310720 + 4096, 8396800)
    assert P.v1_blkio(fixture_text("v1/blkio.throttle.io_service_bytes_recursive")).read_bytes == 0


def test_v1_cpu_limit(fixture_text) -> None:
    assert P.v1_cpu_limit(fixture_text("v1/cpu.cfs_quota_us"), fixture_text("v1/cpu.cfs_period_us")) == 0.5
    assert P.v1_cpu_limit("-1\n", "100000\n") is None


def test_v2_cpu_in_nanoseconds(fixture_text) -> None:
    cpu = P.v2_cpu(fixture_text("v2/cpu.stat"))
    assert cpu.usage_ns == 5305410 * 1000 and cpu.user_ns == 3894235 * 1000
    assert cpu.nr_throttled == 38 and cpu.throttled_ns == 1728405 * 1000


def test_v2_memory(fixture_text) -> None:
    mem = P.v2_memory(fixture_text("v2/memory.current"), fixture_text("v2/memory.max"),
                      fixture_text("v2/memory.stat"), fixture_text("v2/memory.events"))
    assert mem.usage_bytes == 9613312 and mem.limit_bytes == 67108864
    assert mem.working_set_bytes == 9613312 - 7774208
    assert mem.oom_kills == 1 and mem.rss_bytes == 1400832
    assert P.parse_limit(fixture_text("v2/unlimited/memory.max")) is None


def test_v2_io_sums_devices(fixture_text) -> None:
    io = P.v2_io(fixture_text("v2/io.stat"))
    assert io.read_bytes == 1459200 + 90430464 and io.write_bytes == 314773504 + 299008000
    assert io.read_ops == 192 + 8950 and io.write_ops == 353 + 1252


def test_v2_cpu_limit(fixture_text) -> None:
    assert P.v2_cpu_limit(fixture_text("v2/cpu.max")) == 0.5
    assert P.v2_cpu_limit(fixture_text("v2/unlimited/cpu.max")) is None


def test_pids(fixture_text) -> None:
    assert P.parse_int(fixture_text("v1/pids.current")) >= 1
    assert P.parse_int(fixture_text("v2/pids.current")) == 3


def test_pick_agrees_with_the_full_parser(fixture_text) -> None:
    for rel, keys in (("v1/memory.stat", P.V1_MEMORY_KEYS), ("v2/memory.stat", P.V2_MEMORY_KEYS),
                      ("v1/memory.oom_control", ("oom_kill",)), ("v2/memory.events", ("oom_kill", "oom"))):
        text = fixture_text(rel)
        full = P.parse_flat_keyed(text)
        assert P.pick(text, keys) == {k: full[k] for k in keys if k in full}


def test_a_sweeps_figures_agree_with_the_typed_parsers(fixture_text) -> None:
    """The collector's one-pass figures (issue 30: the agent's sweep under 1 % of a core) are the
    numbers the typed parsers give, on files captured from v1 and v2 hosts."""
    v1 = {name: fixture_text(f"v1/{'blkio.throttle.io_service_bytes_recursive' if name == 'blkio' else name}")
          for name in P.V1_FILES}
    cpu, mem = P.v1_cpu(v1["cpuacct.usage"], v1["cpu.stat"]), P.v1_memory(
        v1["memory.usage_in_bytes"], v1["memory.limit_in_bytes"], v1["memory.stat"], v1["memory.oom_control"])
    io = P.v1_blkio(v1["blkio"])
    assert P.v1_figures([v1[name] for name in P.V1_FILES]) == (
        cpu.usage_ns, cpu.throttled_ns, mem.usage_bytes, mem.limit_bytes, mem.inactive_file_bytes, mem.oom_kills,
        io.read_bytes, io.write_bytes, P.parse_int(v1["pids.current"]))
    v2 = {name: fixture_text(f"v2/{name}") for name in P.V2_FILES}
    cpu, mem = P.v2_cpu(v2["cpu.stat"]), P.v2_memory(v2["memory.current"], v2["memory.max"], v2["memory.stat"],
                                                    v2["memory.events"])
    io = P.v2_io(v2["io.stat"])
    assert P.v2_figures([v2[name] for name in P.V2_FILES]) == (
        cpu.usage_ns, cpu.throttled_ns, mem.usage_bytes, mem.limit_bytes, mem.inactive_file_bytes, mem.oom_kills,
        io.read_bytes, io.write_bytes, 3)
    assert mem.oom_kills == 1 and io.read_bytes > 0 and cpu.throttled_ns > 0  # the fixtures hold real values


def test_figures_of_absent_files_and_a_leaf_without_totals() -> None:
    """A file missing at first open reads as '' (no blkio, no oom_control); a memory.stat without the
    hierarchical total_ keys (a v1 leaf without use_hierarchy) gives its own inactive_file."""
    texts = ["5000\n", "", "1000\n", "9223372036854771712\n", "cache 10\ninactive_file 300\n", "", "", ""]
    assert P.v1_figures(texts) == (5000, 0, 1000, None, 300, 0, 0, 0, 0)
    assert P.value("active_file 7\ninactive_file 9\n", "active_file") == 7  # a whole key, not a suffix
    assert P.value("inactive_file 9\nactive_file 7\n", "active_file") == 7

"""The collector on a fake /sys/fs/cgroup and /proc built from the captured files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dockyard.monitor import cgroups
from dockyard.monitor.cgroups import Layout
from dockyard.monitor.collector import Collector, DiskUse, cpu_percent
from dockyard.monitor.inventory import Tracked
from tests.unit.monitor.conftest import FIXTURES

CID = "c" * 64


def test_cpu_percent_one_core_is_100() -> None:
    assert cpu_percent(0, 1_000_000_000, 0, 1_000_000_000) == 100.0
    assert cpu_percent(0, 500_000_000, 0, 2_000_000_000) == 25.0
    assert cpu_percent(10, 5, 0, 1) == 0.0  # counter reset
    assert cpu_percent(0, 5, 1, 1) == 0.0


def test_parse_proc_cgroup_v1_and_v2() -> None:
    text = "12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/\n"
    assert cgroups.parse_proc_cgroup(text) == {"cpu": "/docker/abc", "cpuacct": "/docker/abc",
                                               "memory": "/docker/abc", "systemd": "/docker/abc", "": "/"}


@pytest.mark.parametrize(("driver", "parent", "expected"), [
    ("cgroupfs", "", "/docker/ID"),
    ("cgroupfs", "/custom/", "/custom/ID"),
    ("systemd", "", "/system.slice/docker-ID.scope"),
    ("systemd", "dockyard.slice", "/dockyard.slice/docker-ID.scope"),
])
def test_relative_path_per_driver(driver: str, parent: str, expected: str) -> None:
    assert cgroups.relative_path(driver, "ID", parent) == expected


def test_cgroup_dirs_v1_and_v2() -> None:
    assert cgroups.cgroup_dirs(Layout(2, "/r"), "/system.slice/docker-x.scope") == {
        "": "/r/system.slice/docker-x.scope"}
    dirs = cgroups.cgroup_dirs(Layout(1, "/r"), {"cpu": "/docker/x", "memory": "/docker/x", "": "/"})
    assert dirs["cpu"] == "/r/cpu/docker/x" and dirs["memory"] == "/r/memory/docker/x"


def make_v1_tree(root: Path, pid: int) -> None:
    for controller in cgroups.V1_CONTROLLERS:
        d = root / "cg" / controller / "docker" / CID
        d.mkdir(parents=True)
        for f in (FIXTURES / "v1").iterdir():
            if f.is_file() and f.name.split(".")[0] in (controller, "cpuacct" if controller == "cpuacct" else ""):
                shutil.copy(f, d / f.name)
    proc = root / "proc" / str(pid)
    (proc / "net").mkdir(parents=True)
    shutil.copy(FIXTURES / "proc" / "net_dev", proc / "net" / "dev")
    (proc / "cgroup").write_text(f"4:memory:/docker/{CID}\n3:cpu:/docker/{CID}\n2:cpuacct:/docker/{CID}\n"
                                 f"1:blkio:/docker/{CID}\n5:pids:/docker/{CID}\n")


def tracked(pid: int = 42, running: bool = True) -> Tracked:
    return Tracked(id=CID, name="shop_testing_web_1", labels={"dockyard.app": "shop", "dockyard.env": "testing",
                                                               "dockyard.service": "web"}, pid=pid, running=running)


def test_sample_from_v1_files_then_cpu_delta(tmp_path: Path) -> None:
    make_v1_tree(tmp_path, 42)
    collector = Collector(Layout(1, str(tmp_path / "cg")), proc_root=str(tmp_path / "proc"), host="h")
    first = collector.sweep([tracked()], {CID: DiskUse(100, 20)})[0]
    assert first.up and first.app == "shop" and first.service == "web"
    assert first.memory_limit_bytes == 64 * 1024 * 1024
    assert first.memory_bytes == int((FIXTURES / "v1/memory.usage_in_bytes").read_text()) - 8388608
    assert first.net_rx_bytes == 426 and first.pids >= 1
    assert first.disk_bytes == 120 and first.cpu_percent == 0.0
    usage = tmp_path / "cg" / "cpuacct" / "docker" / CID / "cpuacct.usage"
    usage.write_text(str(int(usage.read_text()) + 10**12))  # a huge jump: CPU % > 0 on the next sweep
    second = collector.sweep([tracked()])[0]
    assert second.cpu_percent > 0


def test_removed_cgroup_reads_as_down(tmp_path: Path) -> None:
    make_v1_tree(tmp_path, 42)
    collector = Collector(Layout(1, str(tmp_path / "cg")), proc_root=str(tmp_path / "proc"), host="h")
    assert collector.sweep([tracked()])[0].up
    collector.close()
    shutil.rmtree(tmp_path / "cg" / "cpuacct" / "docker" / CID)
    down = collector.sweep([tracked()])[0]
    assert not down.up and down.state == "down"
    assert not collector.sweep([tracked(running=False)])[0].up


def test_v2_sample(tmp_path: Path) -> None:
    d = tmp_path / "cg" / "system.slice" / f"docker-{CID}.scope"
    d.mkdir(parents=True)
    for f in (FIXTURES / "v2").iterdir():
        if f.is_file():
            shutil.copy(f, d / f.name)
    (tmp_path / "cg" / "cgroup.controllers").write_text("cpu io memory pids\n")
    proc = tmp_path / "proc" / "7"
    (proc / "net").mkdir(parents=True)
    shutil.copy(FIXTURES / "proc" / "net_dev", proc / "net" / "dev")
    (proc / "cgroup").write_text("0::/\n")  # private cgroup namespace: fall back to the driver's rule
    layout = cgroups.detect_layout(str(tmp_path / "cg"))
    assert layout.version == 2
    s = Collector(layout, driver="systemd", proc_root=str(tmp_path / "proc")).sweep([tracked(pid=7)])[0]
    assert s.up and s.memory_bytes == 9613312 - 7774208 and s.oom_kills == 1
    assert s.blkio_write_bytes == 314773504 + 299008000 and s.pids == 3 and s.cpu_seconds == 5.30541


def test_read_all_reads_what_is_there_and_needs_only_the_first(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1\n")
    (tmp_path / "c").write_text("3\n")
    files = cgroups.FileSet({k: str(tmp_path / k) for k in "abc"})
    assert files.read_all(("a", "b", "c")) == ["1\n", "", "3\n"]
    (tmp_path / "c").write_text("4\n")
    assert files.read_all(("a", "b", "c")) == ["1\n", "", "4\n"]  # the same descriptors, read again
    files.close()
    with pytest.raises(cgroups.Gone):
        cgroups.FileSet({"b": str(tmp_path / "b")}).read_all(("b",))

from __future__ import annotations

from pathlib import Path

from dockyard.router.procs import Proc, children, is_master, parse_cmdline, parse_stat, workers


def test_parse_stat_with_odd_command_names() -> None:
    assert parse_stat("4242 (nginx) S 4200 4242 4242 0 -1 4194624 101 0 0 0") == (4242, 4200)
    assert parse_stat("77 (a) b (c)) R 1 77 77 0") == (77, 1)


def test_parse_cmdline_title() -> None:
    assert parse_cmdline(b"nginx: worker process is shutting down\x00\x00\x00") == \
        "nginx: worker process is shutting down"
    assert parse_cmdline(b"nginx: master process /usr/sbin/nginx -p /h\x00") == \
        "nginx: master process /usr/sbin/nginx -p /h"


def fake_proc(root: Path, pid: int, ppid: int, title: str) -> None:
    (root / str(pid)).mkdir()
    (root / str(pid) / "stat").write_text(f"{pid} (nginx) S {ppid} 1 1 0")
    (root / str(pid) / "cmdline").write_bytes(title.encode() + b"\x00")


def test_workers_of_a_master_from_a_proc_tree(tmp_path: Path) -> None:
    conf = "/h/router/a-b/nginx.conf"
    fake_proc(tmp_path, 10, 1, f"nginx: master process /usr/sbin/nginx -c {conf}")
    fake_proc(tmp_path, 11, 10, "nginx: worker process is shutting down")
    fake_proc(tmp_path, 12, 10, "nginx: worker process")
    fake_proc(tmp_path, 13, 99, "nginx: worker process")
    (tmp_path / "self").mkdir()
    assert sorted(c.pid for c in children(10, tmp_path)) == [11, 12]
    assert workers(10, tmp_path) == ({12}, {11})
    assert is_master(Proc(10, 1, f"nginx: master process /usr/sbin/nginx -c {conf}"), Path(conf))
    assert not is_master(Proc(10, 1, "nginx: master process /usr/sbin/nginx -c /other.conf"), Path(conf))
    assert not is_master(None, Path(conf))

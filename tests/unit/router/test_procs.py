from __future__ import annotations

from pathlib import Path

from dockyard.router.procs import (
    Proc,
    children,
    holding,
    is_master,
    listening_sockets,
    orphans,
    parse_cmdline,
    parse_listeners,
    parse_pgid,
    parse_stat,
    workers,
)


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


def grouped_proc(root: Path, pid: int, ppid: int, pgid: int, title: str) -> None:
    (root / str(pid)).mkdir()
    (root / str(pid) / "stat").write_text(f"{pid} (nginx) S {ppid} {pgid} {pgid} 0 -1 4194624")
    (root / str(pid) / "cmdline").write_bytes(title.encode() + b"\x00")


def test_the_orphans_of_a_dead_master_are_its_process_group_and_nothing_else(tmp_path: Path) -> None:
    # master 500 is gone; its two workers (now children of init) are still in group 500
    grouped_proc(tmp_path, 501, 1, 500, "nginx: worker process")
    grouped_proc(tmp_path, 502, 1, 500, "nginx: worker process is shutting down")
    grouped_proc(tmp_path, 600, 1, 600, "nginx: master process /usr/sbin/nginx -c /other/nginx.conf")
    grouped_proc(tmp_path, 601, 600, 600, "nginx: worker process")  # another nginx: never touched
    grouped_proc(tmp_path, 700, 1, 500, "python3 something")  # in the group but not nginx's
    assert sorted(p.pid for p in orphans(500, tmp_path)) == [501, 502]
    assert orphans(600, tmp_path) == []  # its master lives: the group is that master's


def test_a_master_killed_but_not_yet_reaped_is_dead(tmp_path: Path) -> None:
    (tmp_path / "500").mkdir()
    (tmp_path / "500" / "stat").write_text("500 (nginx) Z 1 500 500 0")  # a zombie keeps its /proc entry
    (tmp_path / "500" / "cmdline").write_bytes(b"")
    grouped_proc(tmp_path, 501, 1, 500, "nginx: worker process")
    assert [p.pid for p in orphans(500, tmp_path)] == [501]


def test_parse_pgid() -> None:
    assert parse_pgid("4242 (ng inx) S 4200 4241 4241 0") == 4241


TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:4652 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 91234 1
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 91235 1
   2: 0100007F:4653 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 91236 1
   3: 0200000A:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 91237 1
"""


def test_parse_listeners_keeps_loopback_and_any_address_listeners() -> None:
    # 0x4652 = 18002 on 127.0.0.1, 0x1F90 = 8080 on every address; an established one and 10.0.0.2 are not ours
    assert parse_listeners(TCP) == {18002: 91234, 8080: 91235}


ANY6 = "0" * 32
TCP6 = (f"  sl  local_address{' ' * 25}remote_address{' ' * 24}st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        f"timeout inode\n   0: {ANY6}:1F90 {ANY6}:0000 0A 00000000:00000000 00:00000000 00000000"
        "     0        0 91300 1\n")


def test_the_sockets_listening_on_some_ports_on_any_address_and_who_holds_them(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text(TCP)
    (tmp_path / "net" / "tcp6").write_text(TCP6)
    # 8080 on every IPv4 and IPv6 address, 80 on 10.0.0.2 (an edge may listen on any address); 18003 is
    # an established connection, not a listener
    assert listening_sockets((8080, 80, 18003), tmp_path) == {"socket:[91235]", "socket:[91300]", "socket:[91237]"}
    (tmp_path / "42" / "fd").mkdir(parents=True)
    (tmp_path / "42" / "fd" / "3").symlink_to("socket:[91235]")
    (tmp_path / "42" / "fd" / "4").symlink_to("/dev/null")
    assert holding(42, {"socket:[91235]", "socket:[91300]"}, tmp_path) == {"socket:[91235]"}
    assert holding(43, {"socket:[91235]"}, tmp_path) == set()  # gone

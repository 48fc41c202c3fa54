"""The edge's access log as a forwarder source: tagged per environment, resumed from a position,
and rotated without losing what an old process still writes to its own file (issue 15).

The writers here are this test process: it holds each file open like an HAProxy process that has
not exited yet."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from dockyard.logs.edge_metrics import EdgeMetrics
from dockyard.logs.edge_source import EDGE_SOURCE, EdgeAccessLog, EdgeLogConfig, held_open
from dockyard.logs.tailer import Loss


def line(n: int, app: str = "shop", env: str = "production", status: int = 200) -> bytes:
    return (f'{{"t":1764452464.{n:03d},"app":"{app}","env":"{env}","host":"h","method":"GET","uri":"/{n}",'
            f'"proto":"HTTP/1.1","status":{status},"bytes":1,"rt":1,"ut":1,"addr":"a","ua":""}}\n').encode()


class Writer:
    """The edge's side: each process writes a file of its own; `reopen()` is a reload (a new process
    and its file), whose old one goes on writing until `release()` (it exited)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.started = 0
        self.fd = self._start()
        self.old: list[int] = []
        self.reopened = 0

    def _start(self) -> int:
        self.started += 1
        return os.open(self.directory / f"access-{self.started:020d}.log", os.O_WRONLY | os.O_CREAT, 0o600)

    def write(self, *lines: bytes) -> None:
        os.write(self.fd, b"".join(lines))

    def reopen(self) -> None:
        self.old.append(self.fd)
        self.fd = self._start()
        self.reopened += 1

    def release(self) -> None:
        for fd in self.old:
            os.close(fd)
        self.old = []

    def writers(self) -> set[int]:  # the reader's own descriptors are in this process too: only while held
        return {os.getpid()} if self.old else set()

    def files(self) -> list[str]:
        return sorted(path.name for path in self.directory.glob("access-*.log"))


def drain(source: EdgeAccessLog) -> list[tuple[str, list[str]]]:
    """(cid, uris) per batch, and the last position, until nothing more is there."""
    got = []
    source.refresh()
    while (read := source.read()) is not None:
        for append in read.appends:
            if append.batch is not None:
                got.append((append.batch.cid, [m.split()[1] for _, _, _, m in append.batch.lines]))
        source.refresh()
    return got


def make(tmp_path: Path, writer: Writer, start=None, losses=None, max_bytes: int = 1 << 20) -> EdgeAccessLog:
    config = EdgeLogConfig(tmp_path, writer.writers, writer.reopen, max_bytes=max_bytes, check_every=0)
    return EdgeAccessLog(config, start, (losses if losses is not None else []).append, "host1", EdgeMetrics("host1"))


def test_lines_per_environment_with_their_tags_and_the_position_after_them(tmp_path: Path) -> None:
    writer = Writer(tmp_path)
    writer.write(line(1), line(2, app="blog", env="testing"), b"garbage\n", line(3), line(4, app="", env=""))
    source = make(tmp_path, writer)
    read = source.read()
    assert read is not None and read.bad == 1
    batches = {a.cid: a.batch for a in read.appends if a.batch}
    assert {cid: [m.split()[1] for *_, m in b.lines] for cid, b in batches.items()} == {
        "edge:shop/production": ["h/1", "h/3"], "edge:blog/testing": ["h/2"], "edge": ["h/4"]}
    assert batches["edge:shop/production"].tags == {
        "host": "host1", "container_id": EDGE_SOURCE, "container": "edge", "image": "haproxy", "app": "shop",
        "env": "production", "service": "edge", "release": ""}
    third = len(line(1)) + len(line(2, "blog", "testing")) + len(b"garbage\n")
    assert [entry[0] for entry in batches["edge:shop/production"].lines] == [0, third]  # offsets in the file
    position = read.appends[-1]
    assert position.cid == EDGE_SOURCE and position.batch is None
    assert position.position is not None and position.position.offset == os.fstat(writer.fd).st_size
    assert source.metrics.requests == {("shop", "production", "2xx"): 2, ("blog", "testing", "2xx"): 1}
    assert source.read() is None  # nothing more yet
    writer.write(b'{"t":1,"unfinished')  # a line HAProxy has not finished: not read yet
    assert source.read() is None


def test_a_restart_resumes_at_its_position(tmp_path: Path) -> None:
    writer = Writer(tmp_path)
    writer.write(line(1), line(2))
    first = make(tmp_path, writer)
    read = first.read()
    assert read is not None
    first.close()
    writer.write(line(3))
    again = make(tmp_path, writer, start=read.appends[-1].position)
    assert drain(again) == [("edge:shop/production", ["h/3"])]


def test_rotation_reads_what_an_old_process_adds_then_deletes_its_file(tmp_path: Path) -> None:
    writer = Writer(tmp_path)
    source = make(tmp_path, writer, max_bytes=4 * len(line(1)))
    writer.write(*(line(n) for n in range(1, 5)))
    assert drain(source) == [("edge:shop/production", ["h/1", "h/2", "h/3", "h/4"])]
    assert writer.reopened == 1 and len(writer.files()) == 2  # past max_bytes: the edge reloaded
    os.write(writer.old[0], line(5))  # the old process finishes a request: into its own file
    writer.write(line(6))  # the new one: into the new file
    got = drain(source)
    assert got == [("edge:shop/production", ["h/5"])]  # the old file is still held: not left yet
    assert len(writer.files()) == 2 and writer.reopened == 1  # no rotation while one is being finished
    os.write(writer.old[0], line(7))
    writer.release()
    assert drain(source) == [("edge:shop/production", ["h/7"]), ("edge:shop/production", ["h/6"])]
    assert writer.files() == [f"access-{2:020d}.log"]  # the old one, read to its end, is deleted


def test_a_position_in_a_file_that_is_gone_is_a_recorded_loss(tmp_path: Path) -> None:
    writer = Writer(tmp_path)
    writer.write(line(1))
    source = make(tmp_path, writer)
    read = source.read()
    assert read is not None
    source.close()
    os.unlink(tmp_path / writer.files()[0])
    writer.reopen()
    writer.write(line(2))
    losses: list[Loss] = []
    assert drain(make(tmp_path, writer, start=read.appends[-1].position, losses=losses)) == [
        ("edge:shop/production", ["h/2"])]
    assert len(losses) == 1 and "rotated away" in losses[0].what


def test_a_restart_past_a_finished_file_deletes_it(tmp_path: Path) -> None:
    """Stopped after moving on to the newer file, before deleting the one it finished."""
    writer = Writer(tmp_path)
    first_file = writer.files()[0]
    writer.write(line(1))
    writer.reopen()
    writer.write(line(2))
    writer.release()
    source = make(tmp_path, writer)
    assert drain(source) == [("edge:shop/production", ["h/1"]), ("edge:shop/production", ["h/2"])]
    position = source.position()
    source.close()
    assert first_file not in writer.files()
    (tmp_path / first_file).write_bytes(line(1))  # as if the delete had not happened
    again = make(tmp_path, writer, start=position)
    assert drain(again) == [] and first_file not in writer.files()


def test_held_open_sees_another_process_holding_the_file(tmp_path: Path) -> None:
    log = tmp_path / "access-1.log"
    log.write_bytes(b"x\n")
    st = os.stat(log)
    with open(log, "rb") as handle:
        holder = subprocess.Popen(["sleep", "30"], stdin=handle)
    try:
        assert held_open(st.st_ino, st.st_dev, {holder.pid})
        assert not held_open(st.st_ino + 1, st.st_dev, {holder.pid})
    finally:
        holder.kill()
        holder.wait()
    assert not held_open(st.st_ino, st.st_dev, {holder.pid})  # gone

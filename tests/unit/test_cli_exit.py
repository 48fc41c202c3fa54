"""A read ends without the interpreter's teardown (cli/remote.entry, issue 30): its output whole
and flushed, its exit status kept, through a pipe as to a terminal; other commands exit as ever."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockyard.cli.argv import ends_at_once, follows

SPEC = """\
app: shop
services:
  web: {command: [httpd, -f, -p, "8080"], port: 8080}
environments:
  testing: {engine: local}
"""
ENTRY = "import sys; sys.argv[0] = 'dockyard'; from dockyard.cli.remote import entry; entry()"


def test_reads_and_helps_end_at_once_and_nothing_else_does() -> None:
    for argv in (["ps"], ["-f", "other.yml", "status", "testing"], ["logs", "testing", "--limit", "20"],
                 ["config", "ls", "testing"], ["token", "ls"], ["deploy", "--help"], ["--help"], [],
                 ["config", "set", "-h"]):
        assert ends_at_once(argv), argv
    for argv in (["deploy", "testing"], ["config", "set", "testing", "A=1"], ["rollback", "production"],
                 ["server"], ["agent"], ["token", "create"], ["backup", "create", "testing", "db"]):
        assert not ends_at_once(argv), argv
    assert follows(["logs", "testing", "-f"]) and follows(["-f", "x.yml", "events", "--follow"])
    assert not follows(["-f", "x.yml", "logs", "testing"]) and not follows(["ps"])


def run(app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=app, env=dict(os.environ), capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def app(tmp_path: Path, dockyard_env: Path) -> Path:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "dockyard.yml").write_text(SPEC)
    return folder


def test_a_read_prints_whole_and_keeps_its_exit_status(app: Path) -> None:
    listed = run(app, "releases", "testing", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == [], listed.stderr
    refused = run(app, "releases", "nowhere")
    assert refused.returncode == 1 and "nowhere" in refused.stderr and "Traceback" not in refused.stderr
    usage = run(app, "releases")  # a usage error: click's exit status 2
    assert usage.returncode == 2 and "Missing argument" in usage.stderr


def test_a_read_into_a_closed_pipe_ends_quietly(app: Path) -> None:
    """As `dockyard releases testing | true`: the reader is gone before anything is written."""
    for args in (["deploy", "--help"], ["releases", "testing"]):
        reader, writer = os.pipe()
        proc = subprocess.Popen([sys.executable, "-c", ENTRY, *args], cwd=app, env=dict(os.environ), stdout=writer,
                                stderr=subprocess.PIPE)
        os.close(writer)
        os.close(reader)
        assert proc.stderr is not None
        said = proc.stderr.read().decode()
        assert proc.wait(timeout=60) in (0, 1) and "Traceback" not in said, (args, said)

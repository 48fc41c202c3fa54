"""Build mistakes name the way forward (issue 27): a failed step shows its output's last lines, a
folder outside git says how to start one, not git's own words."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dockyard.build.git import head_commit
from dockyard.engine.images import TAIL, follow_stream
from dockyard.errors import BuildError


def test_a_failed_step_shows_the_last_lines_of_its_output() -> None:
    lines = [{"stream": "Step 1/2 : FROM dockyard/busybox:1.35\n"}, {"stream": " ---> 5c00737e7c81\n"},
             {"stream": "Step 2/2 : RUN make\n"}]
    lines += [{"stream": f"cc -c part{n}.c\n"} for n in range(40)]
    lines += [{"stream": "part39.c:3: error: expected ';'\n"},
              {"error": "The command '/bin/sh -c make' returned a non-zero code: 2"}]
    shown: list[str] = []
    with pytest.raises(BuildError) as caught:
        follow_stream(iter(lines), shown.append, "building shop:abc1234")
    message = caught.value.message
    assert message.startswith("building shop:abc1234: The command '/bin/sh -c make' returned a non-zero code: 2\n"
                              f"--- the last {TAIL} lines of its output ---\n")
    tail = message.split("---\n", 1)[1].splitlines()
    assert len(tail) == TAIL and tail[-1] == "part39.c:3: error: expected ';'" and tail[0] == "cc -c part11.c"
    assert len(shown) == 44  # every line went to the progress as it came


def test_outside_git_the_message_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as caught:
        head_commit(tmp_path)
    assert caught.value.message == f"{tmp_path} is not inside a git repository: Dockyard builds an image of a commit"
    assert "git init" in str(caught.value) and "fatal" not in str(caught.value)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with pytest.raises(BuildError, match="the repository has no commit yet"):
        head_commit(tmp_path)


def test_a_line_the_build_stream_splits_goes_on_whole() -> None:
    lines = [{"stream": "Step 2/2 : RUN seq 3\n"}, {"stream": "line 1\nl"}, {"stream": "ine 2\nline"},
             {"stream": " 3"}, {"stream": "\n"}, {"stream": "no end"}, {"aux": {"ID": "sha256:1"}}]
    shown: list[str] = []
    assert follow_stream(iter(lines), shown.append, "building shop:abc1234") == {"ID": "sha256:1"}
    assert shown == ["Step 2/2 : RUN seq 3", "line 1", "line 2", "line 3", "no end"]

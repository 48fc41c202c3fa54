"""Every `--help` of the whole command tree renders, without a traceback, with an example, and shows
flags as flags (issue 27): walked from the Click tree, so a new command is checked the day it lands."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer.main
from typer.testing import CliRunner

from dockyard.cli.main import app, register


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Typer's own (vendored) Click: a group is what has sub-commands."""
    yield path
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            if not sub.hidden:
                yield from walk(sub, (*path, name))


def test_every_help_renders_with_an_example_and_no_typed_flags() -> None:
    register(["--help"])
    tree = typer.main.get_command(app)
    paths = list(walk(tree))
    assert len(paths) > 70  # the whole tree, groups and commands
    problems = []
    for path in paths:
        result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        text = result.output
        where = "dockyard " + " ".join(path) if path else "dockyard"
        if result.exit_code != 0 or result.exception is not None:
            problems.append(f"{where} --help: exit {result.exit_code} {result.exception!r}")
        elif "Example:" not in text:
            problems.append(f"{where} --help: no example")
        elif "<bool>" in text:
            problems.append(f"{where} --help: a flag shown as taking a value (<bool>)")
    assert problems == []


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("dockyard ")

"""Every `--help` of the whole command tree renders, without a traceback, with an example, and shows
flags as flags (issue 27): walked from the Click tree, so a new command is checked the day it lands."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import typer.main
from typer.testing import CliRunner

from dockyard.cli.main import NAMES, SUMMARIES, app, command, register_all


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Typer's own (vendored) Click: a group is what has sub-commands."""
    yield path
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            if not sub.hidden:
                yield from walk(sub, (*path, name))


def test_every_help_renders_with_an_example_and_no_typed_flags() -> None:
    register_all()
    tree = typer.main.get_command(app)
    paths = list(walk(tree))
    assert len(paths) > 70  # the whole tree, groups and commands
    problems = []
    for path in paths:
        code, text = drawn_help(path)
        where = "dockyard " + " ".join(path) if path else "dockyard"
        if code != 0:
            problems.append(f"{where} --help: exit {code}")
        elif "Example:" not in text or "Usage: dockyard" not in text or "--help" not in text:
            problems.append(f"{where} --help: no example")
        elif "<bool>" in text:
            problems.append(f"{where} --help: a flag shown as taking a value (<bool>)")
    assert problems == []


def drawn_help(path: tuple[str, ...]) -> tuple[int, str]:
    """The help as `dockyard` draws it (cli/help_format.py), 200 columns wide; (exit code, text)."""
    with mock.patch.dict(os.environ, {"COLUMNS": "200"}), contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            command().main(args=[*path, "--help"], prog_name="dockyard")
        except SystemExit as exc:
            return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("dockyard ")


# Commands that print no data: they attach a terminal or run in the foreground until stopped.
NO_JSON = {("exec",): "attaches a shell", ("accessory", "exec"): "attaches a shell",
           ("agent",): "runs until stopped", ("server",): "runs until stopped",
           ("forwarder", "run"): "runs until stopped", ("balancers", "watch"): "runs until stopped",
           ("pipeline", "work"): "runs the queue in the foreground",
           ("run",): "prints the command's own output, or attaches a terminal",
           ("jobs", "run-now"): "prints the job's own output"}


def test_every_command_that_prints_data_takes_json() -> None:
    register_all()
    tree = typer.main.get_command(app)
    leaves = [path for path in walk(tree) if path and not hasattr(_command(tree, path), "commands")]
    missing = [" ".join(path) for path in leaves if path not in NO_JSON
               and "--json" not in {o for p in _command(tree, path).params for o in getattr(p, "opts", [])}]
    assert missing == []
    assert set(NO_JSON) <= set(leaves)  # the exceptions exist: a renamed command is not silently excused


def _command(tree: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        tree = tree.commands[name]
    return tree


def test_the_list_of_commands_says_what_each_command_says_of_itself() -> None:
    """`dockyard --help` lists SUMMARIES without importing the commands: each is the start of its
    command's own help, and every command has one."""
    register_all()
    tree = typer.main.get_command(app)
    assert set(SUMMARIES) == NAMES
    for name, summary in SUMMARIES.items():
        own = " ".join((tree.commands[name].help or "").split("\n\n")[0].split())  # type: ignore[attr-defined]
        assert own.startswith(summary), f"{name}: {summary!r} is not how its help starts: {own!r}"

"""Shared bits of the thin CLI: the console, the spec file option, JSON output."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

# The one --json option: every command that prints data or a result takes it (issue 27)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts (docs/json/).")]

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@dataclass
class Options:
    spec_file: Path = Path("dockyard.yml")


options = Options()


def load_app_spec():  # -> AppSpec; imported lazily so `dockyard --help` stays fast
    from dockyard.spec import load_spec

    return load_spec(options.spec_file)


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


def say(line: str) -> None:
    console.print(line, highlight=False, markup=False)


def result(as_json: bool, data: Any, *lines: str) -> None:
    """What a command did: its lines for a person, or `data` as JSON (docs/json/) for a script."""
    if as_json:
        print_json(data)
        return
    for line in lines:
        say(line)

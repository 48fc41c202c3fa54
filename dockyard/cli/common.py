"""Shared bits of the thin CLI: the console, the spec file option, JSON output."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

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

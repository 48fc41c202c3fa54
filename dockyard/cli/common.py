"""Shared bits of the thin CLI: the console, the spec file option, JSON output."""

from __future__ import annotations

import re
import sys
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

# The one --json option: every command that prints data or a result takes it (issue 27)
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts (docs/json/).")]
# What `logs` and `stats` show of an ENV besides the live release (engine/rows.py troubleshoot_scope)
ReleaseOpt = Annotated[str | None, typer.Option(help="With ENV: this release's, or `all` (default: the live "
                                                     "release's).")]
ColorOpt = Annotated[str | None, typer.Option("--color", help="With ENV: the containers of this colour, blue or "
                                                              "green.")]
ReplicaOpt = Annotated[int | None, typer.Option(help="With ENV: only this replica (of the live release, or of "
                                                     "--color).")]

# No emoji codes: a value, a log line or a name with ":rocket:" in it is printed as it is (and the
# emoji table is not loaded for every print)
console = Console(soft_wrap=True, emoji=False)
err_console = Console(stderr=True, soft_wrap=True, emoji=False)


@dataclass
class Options:
    spec_file: Path = Path("dockyard.yml")


options = Options()


def load_app_spec():  # -> AppSpec; imported lazily so `dockyard --help` stays fast
    from dockyard.spec.brief import load_and_keep

    return load_and_keep(options.spec_file)  # its brief kept for the reads and rollbacks that follow


def read_app_brief():  # -> SpecBrief: what a read command needs of the spec, without pydantic (spec/brief.py)
    from dockyard.spec.brief import read_brief

    return read_brief(options.spec_file)


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode() + "\n")


WaitOpt = Annotated[str | None, typer.Option("--wait", help="When the environment is locked (a change runs, or a "
                                                         "lock taken by hand), wait up to this long (30s, 5m, "
                                                         "1h) instead of being refused.")]
_WAIT = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?")


def lock_patience(wait: str | None) -> AbstractContextManager[None]:
    """The changes made inside wait up to --wait for the environment's lock (state/lock.py)."""
    if wait is None:
        return nullcontext()
    from dockyard.errors import UsageError
    from dockyard.state.lock import patience

    match = _WAIT.fullmatch(wait.strip())
    if not wait.strip() or match is None:
        raise UsageError(f"--wait {wait!r}: use a duration like 30s, 5m, 1h or 1h30m")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return patience(hours * 3600 + minutes * 60 + seconds,
                    note=lambda line: err_console.print(line, highlight=False, markup=False))


def say(line: str) -> None:
    console.print(line, highlight=False, markup=False)


def result(as_json: bool, data: Any, *lines: str) -> None:
    """What a command did: its lines for a person, or `data` as JSON (docs/json/) for a script."""
    if as_json:
        print_json(data)
        return
    for line in lines:
        say(line)


def check_picks(release: str | None, color: str | None, replica: int | None, has_env: bool = True) -> None:
    """--release, --color and --replica name part of an ENV of ./dockyard.yml; a colour is blue or green."""
    from dockyard.errors import UsageError

    if (release or color or replica is not None) and not has_env:
        raise UsageError("--release, --color and --replica need ENV, in the folder of the app's dockyard.yml")
    if color is not None and color not in ("blue", "green"):
        raise UsageError(f"--color: blue or green, got {color!r}")


def live_scope(rows: list[Any], app: str, env: str, service: str | None, release: str | None, color: str | None,
               replica: int | None) -> Any:
    """What `logs` and `stats` show of APP/ENV (engine/rows.py Scope): the live release, or what
    --release, --color or --replica pick among `rows` (observed only when a colour or replica is asked)."""
    from dockyard.engine.rows import troubleshoot_scope
    from dockyard.state.db import StateDB

    db = StateDB()
    try:
        live = db.live_release(app, env)
    finally:
        db.close()
    return troubleshoot_scope(rows, f"{app}/{env}", service, live.release_id if live else None, color, replica,
                              release)

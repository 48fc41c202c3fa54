"""status: the two balancers of a blue-green environment, which colour each serves, and its release."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from dockyard.cli.common import console, load_app_spec, print_json, say


def _when(stamp: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(stamp)) if stamp else "-"


def status(
    env: Annotated[str, typer.Argument(help="A blue-green environment from dockyard.yml.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show the live and preview colours of ENV, their releases and URLs, and the rollback window.

    It also restarts a balancer that died and removes an idle colour whose rollback window ended.

    Example: dockyard status production --json
    """
    from dockyard.router.status import env_status

    data = env_status(load_app_spec(), env, report=(lambda _l: None) if as_json else say)
    if as_json:
        print_json(data)
        return
    router = data["router"]
    state = f"nginx pid {router['pid']}" if router["running"] else "[red]not running[/]"
    console.print(f"[bold]{data['app']}/{data['env']}[/]  balancer: {state}  ({router['config']})")
    for which in ("live", "preview"):
        side = data[which]
        up = sum(r["running"] for r in side["replicas"])
        what = (f"[bold]{side['color']}[/] release {side['release']} ({up}/{len(side['replicas'])} running)"
                if side["color"] else "no colour")
        console.print(f"  {which:8} {side['url']}  {what}")
    if data["rollback_until"]:
        say(f"  switched at {_when(data['switched_at'])}; `dockyard rollback {env}` is a switch until "
            f"{_when(data['rollback_until'])}")


def register(app: typer.Typer) -> None:
    """Add status. (main.py calls it when one of them runs, or for --help.)"""
    app.command()(status)

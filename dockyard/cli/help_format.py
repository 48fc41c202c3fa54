"""Every `--help` of the command tree drawn by cli/help_draw.py instead of Typer's renderer, which
loads rich's Markdown, tracebacks and pretty printer (about 60 ms). The drawing is loaded only
when a help is asked for."""

from __future__ import annotations

import types
from typing import Any


def install(command: Any) -> None:
    """The drawing for `command` and every command under it."""
    command.format_help = types.MethodType(format_help, command)
    for sub in getattr(command, "commands", {}).values():
        install(sub)


def format_help(command: Any, ctx: Any, _formatter: Any) -> None:
    from dockyard.cli.help_draw import draw_help

    draw_help(command, ctx)

"""A command's or group's `--help`, in the panels Typer draws, from rich's console, table and panel
alone (cli/help_format.py installs it). Typer's own renderer (typer.rich_utils) loads rich's
Markdown, tracebacks and pretty printer with it, about 60 ms of a `--help` that issue 30 holds
under 150 ms; dockyard's help texts are Rich markup, never Markdown."""

from __future__ import annotations

import inspect
from typing import Any

import typer
from rich.console import Console, Group, RenderableType
from rich.highlighter import RegexHighlighter
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.theme import Theme
from typer.core import TyperArgument, TyperGroup, TyperOption


class Highlighter(RegexHighlighter):
    """Options, switches and types, coloured as Typer colours them."""

    highlights = [r"(^|\W)(?P<switch>\-\w+)(?![a-zA-Z0-9])", r"(^|\W)(?P<option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
                  r"(?P<types>\<[^\>]+\>)", r"(?P<usage>Usage: )"]


THEME = Theme({"option": "bold cyan", "switch": "bold green", "types": "bold yellow", "usage": "yellow"})
HIGHLIGHT = Highlighter()


def draw_help(command: Any, ctx: typer.Context) -> None:
    console = Console(theme=THEME, highlighter=HIGHLIGHT)
    console.print(Padding(HIGHLIGHT(command.get_usage(ctx)), 1), style="bold")
    if command.help:
        console.print(Padding(_help_text(command.help), (0, 1, 1, 1)))
    params = [p for p in command.get_params(ctx) if not getattr(p, "hidden", False)]
    _print_panel(console, "Arguments", [_row(p, ctx) for p in params if isinstance(p, TyperArgument)])
    _print_panel(console, "Options", [_row(p, ctx) for p in params if isinstance(p, TyperOption)])
    if isinstance(command, TyperGroup):
        listed = [c for c in (command.get_command(ctx, n) for n in command.list_commands(ctx)) if c and not c.hidden]
        _print_commands(console, listed)


def _help_text(text: str) -> RenderableType:
    """The first paragraph as it is, the others dim; single line breaks joined."""
    first, *rest = inspect.cleandoc(text).partition("\f")[0].split("\n\n")
    parts: list[RenderableType] = [HIGHLIGHT(Text.from_markup(first.replace("\n", " ").strip()))]
    if rest:
        parts += [Text(""), HIGHLIGHT(Text.from_markup(inspect.cleandoc("\n\n".join(rest)), style="dim"))]
    return Group(*parts)


def _row(param: TyperArgument | TyperOption, ctx: typer.Context) -> list[RenderableType]:
    """required mark, long names, short names, type, help with its default, env var and [required]."""
    if isinstance(param, TyperArgument):
        longs, shorts = [], [param.metavar or param.name or ""]
        kind = param.type.get_metavar(param=param, ctx=ctx) or f"<{param.type.name}>"
    else:
        longs = [o for o in param.opts if o.startswith("--")] + [o for o in param.secondary_opts if o.startswith("--")]
        shorts = [o for o in param.opts if not o.startswith("--")]
        kind = param.make_metavar(ctx=ctx)
    record = param.get_help_record(ctx)
    help_text, extra = _split_extra(record[1] if record else "")
    types_text = Text(kind if kind and "bool" not in kind.lower() else "", style="bold yellow", overflow="fold")
    described = HIGHLIGHT(Text.from_markup(" ".join(help_text.split())))
    if extra:
        described.append((" " if help_text else "") + extra.strip(), style="dim")
    return [Text("*", style="red") if param.required else Text(""), HIGHLIGHT(Text(",".join(longs))),
            HIGHLIGHT(Text(",".join(shorts))), types_text, described]


def _split_extra(help_text: str) -> tuple[str, str]:
    """click's help record ends with "[default: ...; env var: ...; required]": kept apart, dim."""
    stripped = help_text.rstrip()
    if stripped.startswith("[") and stripped.endswith("]"):
        return "", stripped
    if stripped.endswith("]") and "  [" in stripped:
        at = stripped.rindex("  [")
        return stripped[:at], " " + stripped[at:].strip()
    return help_text, ""


def _print_panel(console: Console, title: str, rows: list[list[RenderableType]]) -> None:
    if not rows:
        return
    if not any(str(row[0]) for row in rows):  # no required one: no column for the mark
        rows = [row[1:] for row in rows]
    table = Table(highlight=True, show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1))
    for _ in rows[0][:-1]:
        table.add_column()
    table.add_column(ratio=1)  # the help takes the width left, the names and types only theirs
    for row in rows:
        table.add_row(*row)
    console.print(Panel(table, border_style="dim", title=title, title_align="left"))


def _print_commands(console: Console, commands: list[Any]) -> None:
    if not commands:
        return
    table = Table(highlight=False, show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1))
    table.add_column(style="bold cyan", no_wrap=True, width=max(len(c.name or "") for c in commands))
    table.add_column("Description", justify="left", no_wrap=False, ratio=10)
    for command in commands:
        first = inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]
        table.add_row(Text(command.name or ""), HIGHLIGHT(Text.from_markup(" ".join(first.split()))))
    console.print(Panel(table, border_style="dim", title="Commands", title_align="left"))

"""The `dockyard` command: thin Typer commands that parse, call, print.

User mistakes surface as DockyardError: one clear message on stderr and a non-zero exit,
never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from dockyard.cli.argv import split_global
from dockyard.cli.common import err_console, options

app = typer.Typer(
    name="dockyard",
    help="From a git commit to production on Docker: one image, every environment.\n\n"
         "Example: dockyard deploy staging",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"dockyard {version('dockyard')}")
        except PackageNotFoundError:
            typer.echo("dockyard (not installed as a package)")
        raise typer.Exit()


@app.callback()
def _global(
    spec_file: Annotated[Path, typer.Option("--file", "-f", help="The app spec.", envvar="DOCKYARD_FILE")] = Path(
        "dockyard.yml"),
    show_version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                               callback=_version)] = False,
) -> None:
    options.spec_file = spec_file


# Each command's module is imported only when that command runs (all of them for --help): a
# `dockyard rollback` does not pay for the server, the pipelines or the log search. Each module
# adds its own commands with register(app). Help order.
REGISTRY: list[tuple[tuple[str, ...], str]] = [
    (("init", "ps", "exec"), "ops_cmds"),
    (("build", "deploy", "promote", "rollback", "releases", "down"), "release_cmds"),
    (("status", "balancers"), "bluegreen_cmds"),
    (("accessory",), "accessory_cmds"),
    (("backup",), "backup_cmds"),
    (("edge", "maintenance"), "edge_cmds"),
    (("nodes",), "swarm_cmds"),
    (("doctor", "engine"), "site_cmds"),
    (("agent", "stats", "events"), "monitor_cmds"),
    (("logs", "forwarder"), "logs_cmds"),
    (("pipeline", "hook", "app"), "pipeline_cmds"),
    (("server", "token"), "server_cmds"),
    (("config", "secret"), "config_cmds"),
    (("scale", "autoscale"), "scale_cmds"),  # scale, autoscale run|status|events|...
    (("audit",), "audit_cmds"),
    (("notify",), "notify_cmds"),
]
NAMES = {name for names, _ in REGISTRY for name in names}


def command_named(argv: list[str]) -> str | None:
    """The command on the command line (after the global --file option); None for --help and the like."""
    _, rest = split_global(argv)
    return rest[0] if rest and rest[0] in NAMES else None


def register(argv: list[str]) -> None:
    wanted = command_named(argv)
    for names, module in REGISTRY:
        if wanted is None or wanted in names:
            importlib.import_module(f"dockyard.cli.{module}").register(app)


def main() -> None:
    from rich.markup import escape

    from dockyard.errors import DockyardError

    argv = sys.argv[1:]
    register(argv)
    code: int = 0
    error: str | None = None
    try:
        app()
    except DockyardError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        code, error = exc.exit_code, exc.message
    except KeyboardInterrupt:
        err_console.print("interrupted")
        code, error = 130, "interrupted"
    except SystemExit as exc:  # typer ends every command this way
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    from dockyard.cli.audit_cmds import record_command

    record_command(argv, code, error)
    sys.exit(code)


if __name__ == "__main__":
    main()

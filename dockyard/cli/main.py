"""The `dockyard` command: thin Typer commands that parse, call, print.

User mistakes surface as DockyardError: one clear message on stderr and a non-zero exit,
never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from dockyard.cli.argv import split_global
from dockyard.cli.common import err_console, options

app = typer.Typer(
    name="dockyard",
    help="From a git commit to production on Docker: one image, every environment.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _global(
    spec_file: Annotated[Path, typer.Option("--file", "-f", help="The app spec.", envvar="DOCKYARD_FILE")] = Path(
        "dockyard.yml"),
) -> None:
    options.spec_file = spec_file


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"dockyard.cli.{name}")


def _commands(module: str, *functions: str, name: str | None = None) -> Callable[[], None]:
    def add() -> None:
        for function in functions:
            app.command(name)(getattr(_module(module), function))
    return add


def _group(module: str, attr: str, name: str) -> Callable[[], None]:
    def add() -> None:
        app.add_typer(getattr(_module(module), attr), name=name)
    return add


def _registered(module: str) -> Callable[[], None]:
    def add() -> None:
        _module(module).register(app)
    return add


# Each command's module is imported only when that command runs (all of them for --help): a
# `dockyard rollback` does not pay for the server, the pipelines or the log search. Help order.
REGISTRY: list[tuple[tuple[str, ...], list[Callable[[], None]]]] = [
    (("init",), [_commands("ops_cmds", "init")]),
    (("build", "deploy", "promote", "rollback", "releases"),
     [_commands("release_cmds", "build", "deploy", "promote", "rollback", "releases")]),
    (("status",), [_commands("bluegreen_cmds", "status")]),
    (("ps",), [_commands("ops_cmds", "ps")]),
    (("nodes",), [_commands("swarm_cmds", "nodes")]),
    (("exec",), [_commands("ops_cmds", "exec_", name="exec")]),
    (("doctor",), [_commands("site_cmds", "doctor")]),
    (("agent", "stats", "events"), [_registered("monitor_cmds")]),
    (("logs",), [_commands("logs_cmds", "logs")]),
    (("forwarder",), [_group("logs_cmds", "forwarder_app", "forwarder")]),
    (("engine",), [_group("site_cmds", "engine_app", "engine")]),
    (("pipeline",), [_group("pipeline_cmds", "pipeline_app", "pipeline")]),
    (("hook",), [_group("pipeline_cmds", "hook_app", "hook")]),
    (("app",), [_group("pipeline_cmds", "app_app", "app")]),
    (("server", "token"), [_commands("server_cmds", "server"), _group("server_cmds", "token_app", "token")]),
    (("config", "secret"), [_group("config_cmds", "config_app", "config"),
                            _group("config_cmds", "secret_app", "secret")]),
    (("scale", "autoscale"), [_registered("scale_cmds")]),  # scale, autoscale run|status|events|...
    (("audit",), [_group("audit_cmds", "audit_app", "audit")]),
]
NAMES = {name for names, _ in REGISTRY for name in names}


def command_named(argv: list[str]) -> str | None:
    """The command on the command line (after the global --file option); None for --help and the like."""
    _, rest = split_global(argv)
    return rest[0] if rest and rest[0] in NAMES else None


def register(argv: list[str]) -> None:
    wanted = command_named(argv)
    for names, adders in REGISTRY:
        if wanted is None or wanted in names:
            for add in adders:
                add()


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

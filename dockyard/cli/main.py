"""The `dockyard` command: thin Typer commands that parse, call, print.

User mistakes surface as DockyardError: one clear message on stderr and a non-zero exit,
never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dockyard.cli import (
    bluegreen_cmds,
    logs_cmds,
    monitor_cmds,
    ops_cmds,
    pipeline_cmds,
    release_cmds,
    site_cmds,
    swarm_cmds,
)
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


app.command()(ops_cmds.init)
app.command()(release_cmds.build)
app.command()(release_cmds.deploy)
app.command()(release_cmds.promote)
app.command()(release_cmds.rollback)
app.command()(release_cmds.releases)
app.command()(bluegreen_cmds.status)
app.command()(ops_cmds.ps)
app.command()(swarm_cmds.nodes)
app.command("exec")(ops_cmds.exec_)
app.command()(site_cmds.doctor)
monitor_cmds.register(app)  # agent, stats, events
app.command()(logs_cmds.logs)
app.add_typer(logs_cmds.forwarder_app, name="forwarder")
app.add_typer(site_cmds.engine_app, name="engine")
app.add_typer(pipeline_cmds.pipeline_app, name="pipeline")
app.add_typer(pipeline_cmds.hook_app, name="hook")
app.add_typer(pipeline_cmds.app_app, name="app")


def _register_server() -> None:
    from dockyard.cli import server_cmds

    app.command()(server_cmds.server)
    app.add_typer(server_cmds.token_app, name="token")


_register_server()


def _register_config() -> None:
    from dockyard.cli.config_cmds import config_app, secret_app

    app.add_typer(config_app, name="config")
    app.add_typer(secret_app, name="secret")


_register_config()


def _register_scale() -> None:
    from dockyard.cli import scale_cmds

    scale_cmds.register(app)  # scale, autoscale run|status|events|enable|disable


_register_scale()


def main() -> None:
    from rich.markup import escape

    from dockyard.errors import DockyardError

    try:
        app()
    except DockyardError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()

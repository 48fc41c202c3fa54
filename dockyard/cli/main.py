"""The `dockyard` command: thin Typer commands that parse, call, print.

User mistakes surface as DockyardError: one clear message on stderr and a non-zero exit,
never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Any

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
    (("scale", "autoscale"), "scale_cmds"),
    (("lock",), "lock_cmds"),
    (("jobs",), "jobs_cmds"),
    (("rollout",), "rollout_cmds"),
    (("preview",), "preview_cmds"),
    (("run",), "run_cmds"),  # scale, autoscale run|status|events|...
    (("audit",), "audit_cmds"),
    (("notify",), "notify_cmds"),
]
NAMES = {name for names, _ in REGISTRY for name in names}

# What `dockyard --help` lists, in its order: the start of each command's own help, so that the
# list shows without importing every command's module (tests/unit/test_cli_help.py holds each to
# its command's help).
SUMMARIES = {
    "init": "Write a commented starter dockyard.yml in the current folder.",
    "ps": "List the app's containers and accessories in every environment (or one), with state, health, release "
          "and URL.",
    "exec": "Run a command (a shell by default) inside a running container of SERVICE in ENV, for troubleshooting",
    "build": "Build the image of the current git commit once, and push it to the registries the environments use.",
    "deploy": "Deploy the current commit's image (or --image) with the environment's configuration, then run the "
              "environment's endpoint tests against it",
    "promote": "Move the release that runs in SOURCE (the same image digest, never a rebuild) to the next "
               "environment",
    "rollback": "Restore the previous release of ENV: its image and its configuration together.",
    "releases": "List the releases of ENV, newest first: release id, image, commit, config revision, status.",
    "down": "Take ENV down: its names off the edge, its balancer, its containers (or Swarm services) and its "
            "network.",
    "status": "Show what each environment runs, whatever its strategy or target",
    "nodes": "List the Swarm pool: each node's CPUs, memory, availability, state and the tasks it runs.",
    "doctor": "Check the engines, the config store, the registries, secrets delivery and the edge",
    "agent": "Run the host agent in the foreground: metrics from cgroup files, discovery, probes, alerts.",
    "stats": "Live CPU, memory, network, block I/O and disk per container, from the host agent.",
    "events": "Alerts (container down or restarting, memory, failing probe, CPU) with their start and end.",
    "logs": "Search the logs of every container of an app, newest first, or follow them live.",
    "server": "Serve the REST API (OpenAPI at /docs), webhooks, the pipeline worker and the poller.",
    "scale": "Set a service's replica count by hand; the autoscaler holds it (within min..max) until --clear.",
    "audit": "Show the audit log, newest first: who changed what, from where, and the outcome.",
    "balancers": "The balancers of this host's blue-green environments.",
    "accessory": "An environment's accessories (databases, caches): boot, reboot, stop, logs, exec, remove.",
    "backup": "Backups of an environment's accessories and volumes: create, ls, restore, prune; where they are "
              "kept: store.",
    "edge": "This host's edge: one HAProxy serving each environment's domains, by name.",
    "maintenance": "Maintenance mode: the edge answers an environment's names with a 503 page.",
    "engine": "Register the site's Docker engines (local socket or tcp:// with TLS).",
    "forwarder": "The log forwarder: follow container logs, spool, ship.",
    "pipeline": "Runs: a commit built once, then deployed, tested and promoted env by env.",
    "hook": "Git hooks that start a pipeline run for each commit or push.",
    "app": "Apps known to the pipeline (their repository and dockyard.yml).",
    "token": "API tokens for `dockyard server` (stored hashed; shown once).",
    "config": "Configuration per environment, kept apart from the image.",
    "secret": "Secrets: encrypted at rest, shown as *** unless --reveal.",
    "run": "Run a command in a new container of ENV's live release: its image, configuration, secrets, files",
    "lock": "Deploy locks: hold an environment by hand, see who holds one.",
    "jobs": "Scheduled jobs (jobs: in dockyard.yml), run by `dockyard server` in one-off containers of the live "
            "release.",
    "rollout": "Canary rollouts: where one is, with the numbers of every step; promote, pause, resume or abort it.",
    "preview": "Pull request previews (previews: in dockyard.yml): each pull request its own environment pr-N; up, "
               "down, ls.",
    "autoscale": "The autoscaler: its loop, its decisions, which apps it scales.",
    "notify": "Notifications (channels and routes in settings.yml): test a channel, list the outbox.",
}


def command_named(argv: list[str]) -> str | None:
    """The command on the command line (after the global --file option); None for --help and the like."""
    _, rest = split_global(argv)
    return rest[0] if rest and rest[0] in NAMES else None


def register(argv: list[str]) -> None:
    """The named command's module adds its commands; without one (`dockyard --help`, a bare
    `dockyard`, a mistyped name) every command is listed by its summary, none of them imported."""
    wanted = command_named(argv)
    if wanted is None:
        for name, summary in SUMMARIES.items():
            app.command(name=name, help=summary, add_help_option=False)(_listed_only)
        return
    for names, module in REGISTRY:
        if wanted in names:
            importlib.import_module(f"dockyard.cli.{module}").register(app)


def register_all() -> None:
    """Every command, whatever the command line (the tests walk the whole tree)."""
    for _, module in REGISTRY:
        importlib.import_module(f"dockyard.cli.{module}").register(app)


def command() -> Any:
    """The click command Typer makes of `app`, every help drawn by cli/help_format.py. (Typer's
    own call adds only its pretty tracebacks, which are off.)"""
    from dockyard.cli import help_format

    made = typer.main.get_command(app)
    help_format.install(made)
    return made


def _listed_only() -> None:
    """Never run: a command is only listed when no command was named on the command line."""
    raise typer.Exit(2)


def main() -> None:
    from rich.markup import escape

    from dockyard.errors import DockyardError

    argv = sys.argv[1:]
    register(argv)
    code: int = 0
    error: str | None = None
    try:
        command().main(prog_name="dockyard")
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

"""`dockyard accessory boot|reboot|stop|logs|exec|remove ENV NAME`: an environment's databases and caches.

ENV first, NAME second, as everywhere (issue 27); the old order NAME ENV still works for this release,
with a warning."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from dockyard.cli.common import console, load_app_spec, say

if TYPE_CHECKING:
    from dockyard.deploy.accessories import Accessories

accessory_app = typer.Typer(help="An environment's accessories (databases, caches): boot, reboot, stop, logs, exec, "
                                 "remove.\n\nExample: dockyard accessory boot production db", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="The accessory, as named under accessories: in dockyard.yml.")]
Env = Annotated[str, typer.Argument(help="The environment.")]


def env_first(command: str, env: str, name: str) -> tuple[str, str]:
    """(env, name), taking the old order NAME ENV for what it was, with a warning."""
    from dockyard.cli.common import err_console

    spec = load_app_spec()
    if env not in spec.environments and name in spec.environments:
        err_console.print(f"warning: `dockyard accessory {command} {env} {name}` is the old order; say the "
                          f"environment first: `dockyard accessory {command} {name} {env}` (the old order goes "
                          "in a later release)", highlight=False, markup=False)
        return name, env
    return env, name
Timeout = Annotated[float, typer.Option(help="Seconds to wait for its health check to pass.")]


def _accessories() -> Accessories:
    from dockyard.config.service import open_config_service
    from dockyard.deploy.accessories import Accessories

    return Accessories(load_app_spec(), open_config_service(), say)


def _shown(state: object) -> str:
    from dockyard.engine.accessories import AccessoryState

    assert isinstance(state, AccessoryState)
    return f"{state.container}: {state.state}, health {state.health}"


@accessory_app.command()
def boot(env: Env, name: Name, timeout: Timeout = 120.0) -> None:
    """Start NAME in ENV if it does not run (its volumes and network made first) and wait until it is healthy.

    Example: dockyard accessory boot production db
    """
    env, name = env_first("boot", env, name)
    console.print(_shown(_accessories().boot(env, name, timeout)), highlight=False)


@accessory_app.command()
def reboot(env: Env, name: Name, timeout: Timeout = 120.0) -> None:
    """Stop and remove NAME's container in ENV, then start it anew from dockyard.yml and the configuration
    as they are now; its volumes (its data) stay.

    Example: dockyard accessory reboot staging db
    """
    env, name = env_first("reboot", env, name)
    console.print(_shown(_accessories().reboot(env, name, timeout)), highlight=False)


@accessory_app.command()
def stop(env: Env, name: Name) -> None:
    """Stop NAME in ENV; it stays stopped (an app deploy does not start it) until `accessory boot`.

    Example: dockyard accessory stop staging cache
    """
    env, name = env_first("stop", env, name)
    stopped = _accessories().stop(env, name)
    console.print(f"{name} in {env} " + ("is stopped" if stopped else "was not running"), highlight=False)


@accessory_app.command()
def remove(
    env: Env, name: Name,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    purge: Annotated[bool, typer.Option("--purge", help="Also remove its volumes, with its data.")] = False,
) -> None:
    """Remove NAME's container in ENV; its volumes stay unless --purge.

    Example: dockyard accessory remove staging cache --yes
    """
    env, name = env_first("remove", env, name)
    from dockyard.errors import UsageError

    spec = load_app_spec()
    spec.accessory(env, name)
    if not yes:
        data = " and its volumes with their data" if purge else ""
        if not sys.stdin.isatty():
            raise UsageError(f"dockyard accessory remove {env} {name} removes its container{data}: confirm with --yes")
        typer.confirm(f"Remove accessory {name} of {spec.app}/{env}{data}?", abort=True)
    for line in _accessories().remove(env, name, purge=purge):
        say(line)


@accessory_app.command()
def logs(
    env: Env, name: Name,
    tail: Annotated[int, typer.Option("--tail", "-n", help="The last lines to print.")] = 100,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
) -> None:
    """Print NAME's output in ENV as the engine keeps it (the log store has it too: dockyard logs ENV NAME).

    Example: dockyard accessory logs production db -n 50
    """
    env, name = env_first("logs", env, name)
    from dockyard.engine.accessories import accessory_logs, find_accessory
    from dockyard.engine.client import connect
    from dockyard.errors import NotFound

    spec = load_app_spec()
    spec.accessory(env, name)
    engine = connect(spec.environment(env).engine)
    try:
        container = find_accessory(engine, spec.app, env, name)
        if container is None:
            raise NotFound(f"accessory {name} of {spec.app}/{env} has no container",
                           hint=f"dockyard accessory boot {env} {name}")
        for chunk in accessory_logs(container, tail, follow):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
    finally:
        engine.close()


@accessory_app.command("exec")
def exec_(
    env: Env, name: Name,
    command: Annotated[list[str] | None, typer.Argument(help="Command to run (after --); default sh.")] = None,
) -> None:
    """Run a command (a shell by default) inside NAME's running container in ENV.

    Example: dockyard accessory exec production cache -- redis-cli info keyspace
    """
    env, name = env_first("exec", env, name)
    from dockyard.cli.ops_cmds import docker_exec
    from dockyard.engine.accessories import find_accessory
    from dockyard.engine.client import connect
    from dockyard.errors import NotFound

    spec = load_app_spec()
    spec.accessory(env, name)
    engine = connect(spec.environment(env).engine)
    try:
        container = find_accessory(engine, spec.app, env, name)
        if container is None or container.status != "running":
            raise NotFound(f"accessory {name} of {spec.app}/{env} is not running",
                           hint=f"dockyard accessory boot {env} {name}")
    finally:
        engine.close()
    raise typer.Exit(docker_exec(engine.config, container.name or "", command or ["sh"]))


def register(app: typer.Typer) -> None:
    """Add `accessory`. (main.py calls it when it runs, or for --help.)"""
    app.add_typer(accessory_app, name="accessory")

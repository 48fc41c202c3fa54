"""`dockyard accessory boot|reboot|stop|logs|exec|remove ENV NAME`: an environment's databases and caches.

ENV first, NAME second, as everywhere (issue 27); the old order NAME ENV still works for this release,
with a warning."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dockyard.cli.common import JsonOpt, err_console, load_app_spec, print_json, result, say

if TYPE_CHECKING:
    from dockyard.deploy.accessories import Accessories

accessory_app = typer.Typer(help="An environment's accessories (databases, caches): boot, reboot, stop, logs, exec, "
                                 "remove.\n\nExample: dockyard accessory boot production db", no_args_is_help=True)

Name = Annotated[str, typer.Argument(help="The accessory, as named under accessories: in dockyard.yml.")]
Env = Annotated[str, typer.Argument(help="The environment.")]


def env_first(command: str, env: str, name: str) -> tuple[str, str]:
    """(env, name), taking the old order NAME ENV for what it was, with a warning."""
    spec = load_app_spec()
    if env not in spec.environments and name in spec.environments:
        err_console.print(f"warning: `dockyard accessory {command} {env} {name}` is the old order; say the "
                          f"environment first: `dockyard accessory {command} {name} {env}` (the old order goes "
                          "in a later release)", highlight=False, markup=False)
        return name, env
    return env, name
Timeout = Annotated[float, typer.Option(help="Seconds to wait for its health check to pass.")]


def _accessories(quiet: bool = False) -> Accessories:
    """The service; `quiet` (--json) sends its progress lines to stderr, keeping stdout for the JSON."""
    from dockyard.config.service import open_config_service
    from dockyard.deploy.accessories import Accessories

    report = (lambda line: err_console.print(line, highlight=False, markup=False)) if quiet else say
    return Accessories(load_app_spec(), open_config_service(), report)


def _shown(as_json: bool, state: Any) -> None:
    """An accessory's container after boot or reboot (docs/json/accessory.schema.json)."""
    result(as_json, {"app": state.app, "env": state.env, "accessory": state.name, "container": state.container,
                     "state": state.state, "health": state.health, "image": state.image},
           f"{state.container}: {state.state}, health {state.health}")


@accessory_app.command()
def boot(env: Env, name: Name, timeout: Timeout = 120.0, as_json: JsonOpt = False) -> None:
    """Start NAME in ENV if it does not run (its volumes and network made first) and wait until it is healthy.

    Example: dockyard accessory boot production db
    """
    env, name = env_first("boot", env, name)
    _shown(as_json, _accessories(as_json).boot(env, name, timeout))


@accessory_app.command()
def reboot(env: Env, name: Name, timeout: Timeout = 120.0, as_json: JsonOpt = False) -> None:
    """Stop and remove NAME's container in ENV, then start it anew from dockyard.yml and the configuration
    as they are now; its volumes (its data) stay.

    Example: dockyard accessory reboot staging db
    """
    env, name = env_first("reboot", env, name)
    _shown(as_json, _accessories(as_json).reboot(env, name, timeout))


@accessory_app.command()
def stop(env: Env, name: Name, as_json: JsonOpt = False) -> None:
    """Stop NAME in ENV; it stays stopped (an app deploy does not start it) until `accessory boot`.

    Example: dockyard accessory stop staging cache
    """
    env, name = env_first("stop", env, name)
    stopped = _accessories(as_json).stop(env, name)
    result(as_json, {"env": env, "accessory": name, "stopped": stopped},
           f"{name} in {env} " + ("is stopped" if stopped else "was not running"))


@accessory_app.command()
def remove(
    env: Env, name: Name,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    purge: Annotated[bool, typer.Option("--purge", help="Also remove its volumes, with its data.")] = False,
    as_json: JsonOpt = False,
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
    done = _accessories(as_json).remove(env, name, purge=purge)
    result(as_json, {"env": env, "accessory": name, "purged": purge, "done": done}, *done)


@accessory_app.command()
def logs(
    env: Env, name: Name,
    tail: Annotated[int, typer.Option("--tail", "-n", help="The last lines to print.")] = 100,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The lines as JSON, newest first (not with -f).")] = False,
) -> None:
    """Print NAME's output in ENV as the engine keeps it (the log store has it too: dockyard logs ENV NAME).

    Example: dockyard accessory logs production db -n 50
    """
    env, name = env_first("logs", env, name)
    from dockyard.engine.client import connect
    from dockyard.errors import NotFound, UsageError

    if as_json and follow:
        raise UsageError("--json prints the last lines once: drop -f (or follow as text)")
    spec = load_app_spec()
    spec.accessory(env, name)
    engine = connect(spec.environment(env).engine)
    try:
        container = engine.find_accessory(spec.app, env, name)
        if container is None:
            raise NotFound(f"accessory {name} of {spec.app}/{env} has no container",
                           hint=f"dockyard accessory boot {env} {name}")
        if as_json:
            from dockyard.logs.query import rfc3339_ns

            lines = sorted(engine.container_lines(container.id, tail), key=lambda x: rfc3339_ns(x[0]))[-tail:]
            print_json([{"time": stamp, "stream": stream, "message": text, "container": container.container,
                         "app": spec.app, "env": env, "accessory": name} for stamp, stream, text in reversed(lines)])
            return
        for chunk in engine.accessory_logs(container.id, container.container, tail, follow):
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
    from dockyard.engine.client import connect
    from dockyard.errors import NotFound

    spec = load_app_spec()
    spec.accessory(env, name)
    engine = connect(spec.environment(env).engine)
    try:
        container = engine.find_accessory(spec.app, env, name)
        if container is None or container.state != "running":
            raise NotFound(f"accessory {name} of {spec.app}/{env} is not running",
                           hint=f"dockyard accessory boot {env} {name}")
    finally:
        engine.close()
    raise typer.Exit(docker_exec(engine.config, container.container, command or ["sh"]))


def register(app: typer.Typer) -> None:
    """Add `accessory`. (main.py calls it when it runs, or for --help.)"""
    app.add_typer(accessory_app, name="accessory")

"""run: a command in a one-off container of an environment's live release."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from dockyard.cli.common import load_app_spec


def run(
    env: Annotated[str, typer.Argument(help="Environment whose live release the command runs in.")],
    command: Annotated[list[str], typer.Argument(help="The command, after --.")],
    service: Annotated[str | None, typer.Option("--service", help="Whose settings it runs with (user, volumes, "
                                                                  "env); default: the first service.")] = None,
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Start it, print its container id and leave it "
                                                                "running (remove it with docker rm).")] = False,
) -> None:
    """Run a command in a new container of ENV's live release: its image, configuration, secrets, files
    and network (accessories by name). The container is removed when it ends and its exit code is
    this command's. Attached to this terminal when there is one.

    Example: dockyard run production -- ./manage.py createsuperuser
    """
    from dockyard.cli.ops_cmds import docker_start
    from dockyard.config.service import open_config_service
    from dockyard.deploy.run_task import discard, finish, start_one_off
    from dockyard.scale.deploys import new_deployer
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    spec.environment(env)
    chosen = service or next(iter(spec.services))
    deployer = new_deployer(spec, open_config_service(), StateDB(), lambda line: print(line, file=sys.stderr))
    engine = deployer.parts.engines(spec.environment(env).engine)
    try:
        interactive = not detach and sys.stdin.isatty() and sys.stdout.isatty()
        container = start_one_off(deployer, engine, env, chosen, command, interactive=interactive,
                                  start=not interactive)
        if detach:
            print(container.id)
            return
        if interactive:  # the docker client attaches this terminal, as `docker start -ai` does
            try:
                code = docker_start(engine.config, container.name)
            finally:
                discard(engine, container)
        else:
            result = finish(engine, container, progress=lambda line: print(line, flush=True))
            code = 124 if result.timed_out else result.exit_code if result.exit_code is not None else 1
    finally:
        engine.close()
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(run)

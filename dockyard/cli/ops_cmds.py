"""ps, exec, init: looking at and into what runs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dockyard.cli.common import (
    JsonOpt,
    check_picks,
    console,
    load_app_spec,
    options,
    print_json,
    read_app_brief,
    result,
)

if TYPE_CHECKING:
    from dockyard.settings import EngineSettings

Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def ps(
    env: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    as_json: Json = False,
) -> None:
    """List the app's containers and accessories in every environment (or one), with state, health, release and URL.

    Example: dockyard ps production --json
    """
    from rich.table import Table

    from dockyard.deploy.probes import judge_all
    from dockyard.engine.client import connect
    from dockyard.engine.facts import AccessoryState
    from dockyard.engine.placement import placement

    brief = read_app_brief()
    envs = [env] if env else brief.env_names()
    rows = []
    accessories: list[AccessoryState] = []
    for engine_name, on_it in _by_engine(envs, brief.engine).items():
        engine = connect(engine_name)
        try:  # the app's containers on this engine in one listing, whatever the number of its environments
            whole = env is None and len(on_it) > 1
            rows += [r for r in engine.observe(brief.app, None if whole else on_it[0]) if r.env in on_it]
            if placement(engine).hosts_accessories:
                accessories += [a for a in engine.list_accessories(brief.app, None if whole else on_it[0])
                                if a.env in on_it]
        finally:
            engine.close()
    order = {name: i for i, name in enumerate(envs)}  # the spec's order of environments, as before
    rows.sort(key=lambda r: order[r.env])
    accessories.sort(key=lambda a: order[a.env])
    public = _public_urls(brief.app)
    routed = brief.routed  # the edge's names lead to it only (None: no service with a port, nothing public)
    # each replica judged by the release that made it (its label), not by this working tree's spec
    health = judge_all(rows, brief.probes)
    if as_json:
        print_json([{"app": r.app, "env": r.env, "service": r.service, "replica": r.replica, "name": r.name,
                     "id": r.id[:12], "state": r.state, "health": h, "release_id": r.release or None,
                     "commit_sha": r.commit, "color": r.color, "url": r.url,
                     "public": public.get(r.env, []) if r.service == routed else []}
                    for r, h in zip(rows, health, strict=True)]
                   # an accessory's row has the replicas' keys too (service: its name), and says what it is
                   + [{"app": a.app, "env": a.env, "service": a.name, "replica": 0, "name": a.container,
                       "id": a.id[:12], "state": a.state, "health": a.health, "release_id": None, "commit_sha": None,
                       "url": None, "public": [], "accessory": a.name, "image": a.image, "restarts": a.restarts}
                      for a in accessories])
        return
    table = Table("env", "service", "name", "color", "state", "health", "release", "url")
    for r, h in zip(rows, health, strict=True):
        colour = "green" if h == "healthy" else "red"
        table.add_row(r.env, r.service, r.name, r.color or "", r.state, f"[{colour}]{h}[/]", r.release, r.url or "")
    for a in accessories:
        colour = "green" if a.state == "running" and a.health in ("healthy", "none") else "red"
        table.add_row(a.env, f"{a.name} (accessory)", a.container, "", a.state, f"[{colour}]{a.health}[/]", "", "")
    console.print(table)
    for name in envs:
        for url in public.get(name, []):
            console.print(f"{name}: {url} (the edge)", highlight=False)


def _by_engine(envs: list[str], engine_of: Callable[[str], str]) -> dict[str, list[str]]:
    """engine -> the environments on it, in their order."""
    found: dict[str, list[str]] = {}
    for name in envs:
        found.setdefault(engine_of(name), []).append(name)
    return found


def _public_urls(app: str) -> dict[str, list[str]]:
    """env -> the URLs the host's edge serves it on."""
    from dockyard.router.edge_routes import EdgeRoutes

    return EdgeRoutes().public_urls(app)


def exec_(
    env: Annotated[str, typer.Argument(help="Environment.")],
    service: Annotated[str, typer.Argument(help="Service.")],
    command: Annotated[list[str] | None, typer.Argument(help="Command to run (after --); default sh.")] = None,
    replica: Annotated[int | None, typer.Option(help="Which replica (default: the first of the live release).")
                       ] = None,
    color: Annotated[str | None, typer.Option("--color", help="blue or green (default: the live release's).")
                     ] = None,
) -> None:
    """Run a command (a shell by default) inside a running container of SERVICE in ENV, for troubleshooting:
    a replica of the live release, where the traffic goes, unless --color or --replica picks another.

    Example: dockyard exec staging web -- sh
    """
    from dockyard.engine.client import connect
    from dockyard.engine.rows import pick_replica
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    env_spec = spec.environment(env)
    spec.service(service)
    check_picks(None, color, None)
    db = StateDB()
    try:
        live = db.live_release(spec.app, env)
    finally:
        db.close()
    engine = connect(env_spec.engine)
    try:
        target = pick_replica(engine.observe(spec.app, env), f"{spec.app}/{env}", service,
                              live.release_id if live else None, color, replica)
        where = engine.config
        if target.node:  # a Swarm task: exec through the dockerd of the node it runs on
            from dockyard.swarm.nodes import node_engine

            where = node_engine(engine, target.node)
    finally:
        engine.close()
    raise typer.Exit(docker_exec(where, target.name, command or ["sh"]))


def docker_cli(where: EngineSettings) -> list[str]:
    """The docker client's argv for that engine (its TLS files where it has them)."""
    argv = ["docker", "-H", where.host]
    if where.tls_ca or where.tls_cert:
        argv += ["--tlsverify", f"--tlscacert={where.tls_ca}", f"--tlscert={where.tls_cert}",
                 f"--tlskey={where.tls_key}"]
    return argv


def docker_exec(where: EngineSettings, container: str, command: list[str]) -> int:
    """`docker exec` in a container of that engine, attached to this terminal; its exit code."""
    tty = ["-t"] if sys.stdin.isatty() and sys.stdout.isatty() else []
    return subprocess.call([*docker_cli(where), "exec", "-i", *tty, container, *command])


def docker_start(where: EngineSettings, container: str) -> int:
    """`docker start -ai` of a made container of that engine, attached to this terminal; its exit code."""
    return subprocess.call([*docker_cli(where), "start", "-ai", container])


def init(
    app_name: Annotated[str | None, typer.Option("--app", help="App name (default: the folder's name).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Write a commented starter dockyard.yml in the current folder.

    Example: dockyard init --app shop-api
    """
    import re

    from dockyard.errors import UsageError
    from dockyard.spec import starter_spec

    path: Path = options.spec_file
    if path.exists() and not force:
        raise UsageError(f"{path} exists; use --force to overwrite it")
    name = app_name or re.sub(r"[^a-z0-9-]+", "-", Path(os.getcwd()).name.lower()).strip("-") or "app"
    path.write_text(starter_spec(name))
    result(as_json, {"app": name, "spec_file": str(path.resolve())}, f"wrote {path}: edit it, then run dockyard build")


def register(app: typer.Typer) -> None:
    """Add init, ps and exec. (main.py calls it when one of them runs, or for --help.)"""
    app.command()(init)
    app.command()(ps)
    app.command("exec")(exec_)

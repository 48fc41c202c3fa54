"""status, balancers: the balancers of blue-green environments, which colour each serves, and the
watch that keeps them up and on their replicas."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from dockyard.cli.common import console, load_app_spec, print_json, say

if TYPE_CHECKING:
    from dockyard.spec import AppSpec


def _when(stamp: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(stamp)) if stamp else "-"


def status(
    env: Annotated[str | None, typer.Argument(help="One environment (default: every one).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show what each environment runs, whatever its strategy or target: the live release, every replica
    with its health (judged by its own release's spec), URLs, maintenance, accessories, and the colours
    and rollback window of a blue-green environment.

    `status ENV` of a blue-green environment also restarts a balancer that died, points it at the
    replicas' addresses when they moved (an engine restart), and removes an idle colour whose
    rollback window ended.

    Example: dockyard status production --json
    """
    from dockyard.deploy.describe import describe_app
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    if env is not None and spec.environment(env).strategy == "blue-green":
        _bluegreen_status(spec, env, as_json)
        return
    described = describe_app(StateDB(), spec, [env] if env else None)
    if as_json:
        print_json(described[0] if env else {"app": spec.app, "environments": described})
        return
    for data in described:
        _print_environment(spec.app, data)


def _print_environment(app: str, data: dict) -> None:
    live = data["live"]
    what = (f"release [bold]{live['release_id']}[/] (commit {(live['commit_sha'] or '?')[:7]}, config revision "
            f"{live['config_revision']}) by {live['actor']}" if live else "[yellow]no live release[/]")
    console.print(f"[bold]{app}/{data['name']}[/]  {data['strategy']} on {data['engine']}  {what}")
    if data["engine_error"]:
        console.print(f"  [red]engine: {data['engine_error']}[/]", highlight=False)
    _print_maintenance(data["maintenance"])
    colors = data["colors"]
    if colors:
        for which in ("live", "preview"):
            side = colors[which]
            if side["color"]:
                console.print(f"  {which:8} {side['url']} -> {side['color']} release {side['release_id']} "
                              f"({side['running']}/{side['replicas']} running)")
        if colors["rollback_until"]:
            say(f"  rollback is a switch until {colors['rollback_until']}")
    for replica in data["replicas"]:
        good = replica["health"] == "healthy"
        color = f" {replica['color']}" if replica["color"] else ""
        console.print(f"  {replica['name']}{color}  {replica['state']}  [{'green' if good else 'red'}]"
                      f"{replica['health']}[/]  {replica['url'] or ''}", highlight=False)
    for url in data["public"]:
        console.print(f"  {url}  (the edge)", highlight=False)
    _print_accessories(data["accessories"])


def _print_maintenance(message: str | None) -> None:
    if message is not None:
        console.print(f"  [yellow]maintenance on[/]: {message}", highlight=False)


def _print_accessories(accessories: list[dict[str, Any]]) -> None:
    for accessory in accessories:
        good = accessory["state"] == "running" and accessory["health"] in ("healthy", "none")
        console.print(f"  accessory {accessory['name']}: {accessory['state']}, health "
                      f"[{'green' if good else 'red'}]{accessory['health']}[/] ({accessory['container']})",
                      highlight=False)


def _bluegreen_status(spec: AppSpec, env: str, as_json: bool) -> None:
    from dockyard.deploy.describe import maintenance
    from dockyard.router.status import env_status

    data = env_status(spec, env, report=(lambda _l: None) if as_json else say)
    data["accessories"] = _accessories(spec, env)
    data["maintenance"] = maintenance(spec.app, env)
    if as_json:
        from dockyard.vocabulary import rfc3339

        print_json({**data, "switched_at": rfc3339(data["switched_at"]),
                    "rollback_until": rfc3339(data["rollback_until"])})
        return
    router = data["router"]
    state = f"nginx pid {router['pid']}" if router["running"] else "[red]not running[/]"
    console.print(f"[bold]{data['app']}/{data['env']}[/]  balancer: {state}  ({router['config']})")
    _print_maintenance(data["maintenance"])
    for which in ("live", "preview"):
        side = data[which]
        up = sum(r["running"] for r in side["replicas"])
        what = (f"[bold]{side['color']}[/] release {side['release_id']} ({up}/{len(side['replicas'])} running)"
                if side["color"] else "no colour")
        console.print(f"  {which:8} {side['url']}  {what}")
        for public in data["public"][which]:
            console.print(f"  {'':8} {public}  (the edge)", highlight=False)
    if data["rollback_until"]:
        say(f"  switched at {_when(data['switched_at'])}; `dockyard rollback {env}` is a switch until "
            f"{_when(data['rollback_until'])}")
    _print_accessories(data["accessories"])


def _accessories(spec: AppSpec, env: str) -> list[dict[str, Any]]:
    """The environment's accessories as they run (an engine that cannot say: none listed)."""
    from dataclasses import asdict

    from dockyard.engine.accessories import list_accessories
    from dockyard.engine.client import connect

    engine = connect(spec.environment(env).engine)
    try:
        return [] if engine.config.swarm else [asdict(a) for a in list_accessories(engine, spec.app, env)]
    finally:
        engine.close()


balancers = typer.Typer(help="The balancers of this host's blue-green environments.\n\n"
                             "Example: dockyard balancers watch", no_args_is_help=True)


@balancers.command("watch")
def watch(
    once: Annotated[bool, typer.Option("--once", help="One round, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between rounds.")] = 0.5,
) -> None:
    """Keep every balancer on this host running and on its replicas' addresses (what `dockyard
    server` does in the background): a dead nginx master is started again after the workers it
    left are ended; upstreams that drifted from the replicas (an engine restart) are repaired.

    Example: dockyard balancers watch --once
    """
    import threading

    from dockyard.router.watch import BalancerWatch

    watcher = BalancerWatch(report=say)
    if once:
        watcher.round()
        return
    stop = threading.Event()
    try:
        watcher.run(stop, interval)
    except KeyboardInterrupt:
        stop.set()


def register(app: typer.Typer) -> None:
    """Add status and balancers. (main.py calls it when one of them runs, or for --help.)"""
    app.command()(status)
    app.add_typer(balancers, name="balancers")

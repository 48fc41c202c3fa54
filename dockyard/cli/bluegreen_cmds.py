"""status, balancers: the balancers of blue-green environments, which colour each serves, and the
watch that keeps them up and on their replicas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from dockyard.cli.common import console, load_app_spec, print_json, read_app_brief, say

if TYPE_CHECKING:
    pass



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

    spec = read_app_brief()  # the whole spec only for an environment with colours (its balancer)
    chores = None if env is None else (lambda _line: None) if as_json else say  # `status ENV` tidies up first
    described = describe_app(StateDB(), spec, load_app_spec, [env] if env else None, chores)
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
    rollout = data.get("rollout")
    if rollout:
        console.print(f"  canary: release {rollout['release_id']} at {rollout['weight']}% (step {rollout['step']} of "
                      f"{rollout['steps']}, {rollout['state']}); dockyard rollout status {data['name']}",
                      highlight=False, markup=False)
    colors = data["colors"]
    if colors:
        balancer = f"nginx pid {colors['balancer_pid']}" if colors["balancer_running"] else "[red]not running[/]"
        console.print(f"  balancer: {balancer}  ({colors['balancer_config']})")
        for which in ("live", "preview"):
            side = colors[which]
            what = (f"{side['color']} release {side['release_id']} ({side['running']}/{side['replicas']} running)"
                    if side["color"] else "no colour")
            console.print(f"  {which:8} {side['url']} -> {what}")
            if which == "preview":
                for public in side["public"]:
                    console.print(f"  {'':8} {public}  (the edge, standby)", highlight=False)
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

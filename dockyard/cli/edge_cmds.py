"""edge configure|status and maintenance on|off: this host's edge, which serves every environment
that has domains."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli.common import console, print_json

Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

edge_app = typer.Typer(help="This host's edge: one nginx serving each environment's domains, by name.",
                       no_args_is_help=True)


@edge_app.command("configure")
def configure(
    address: Annotated[str | None, typer.Option(help="The address it listens on (0.0.0.0: every one).")] = None,
    http_port: Annotated[int | None, typer.Option(help="Its HTTP port (80).")] = None,
) -> None:
    """Where the edge listens; a running edge moves there at once.

    Example: dockyard edge configure --address 127.0.0.1 --http-port 8080
    """
    import ipaddress

    from dockyard import settings
    from dockyard.errors import UsageError
    from dockyard.router.edge import Edge, site_settings

    site = settings.load()
    edge = site.edge.model_copy()
    if address is not None:
        try:
            ipaddress.ip_address(address)
        except ValueError as exc:
            raise UsageError(f"--address {address!r} is not an IP address") from exc
        edge.address = address
    if http_port is not None:
        if not 1 <= http_port <= 65535:
            raise UsageError(f"--http-port {http_port}: must be a port between 1 and 65535")
        edge.http_port = http_port
    site.edge = edge
    running = Edge(site=site_settings(site))
    if running.pid() is not None:  # checked and reloaded first: a port that cannot be had changes nothing
        running.serve(running.rendered())
    settings.save(site)
    console.print(f"edge: http://{edge.address}:{edge.http_port}", highlight=False)


@edge_app.command("status")
def status(as_json: Json = False) -> None:
    """The edge's routes: each environment's names, what serves them, and whether nginx runs.

    Example: dockyard edge status --json
    """
    from rich.table import Table

    from dockyard.router.edge import Edge

    edge = Edge()
    routes = edge.routes()
    pid = edge.pid()
    port = "" if edge.site.http_port == 80 else f":{edge.site.http_port}"  # redirects and previews: whole names
    if as_json:
        print_json({"running": pid is not None, "pid": pid, "address": edge.site.address,
                    "http_port": edge.site.http_port,
                    "routes": [{"app": r.app, "env": r.env, "path": r.path, "domains": list(r.domains),
                                "redirects": r.redirects, "preview": r.preview_name, "servers": list(r.servers),
                                "urls": r.urls(edge.site)}
                               for r in routes]})
        return
    console.print(f"edge on {edge.site.address}:{edge.site.http_port}: "
                  + (f"nginx pid {pid}" if pid else "[yellow]not running[/]"), highlight=False)
    table = Table("app/env", "url", "served by")
    for r in routes:
        for url in r.urls(edge.site):
            table.add_row(f"{r.app}/{r.env}", url, ", ".join(r.servers) or "nothing (503)")
        for source, target in r.redirects.items():
            table.add_row(f"{r.app}/{r.env}", f"http://{source}{port}/", f"redirect to {target}")
        if r.preview_name:
            table.add_row(f"{r.app}/{r.env}", f"http://{r.preview_name}{port}/", ", ".join(r.preview))
    console.print(table)




maintenance_app = typer.Typer(help="Maintenance mode: the edge answers an environment's names with a 503 page.",
                              no_args_is_help=True)


@maintenance_app.command("on")
def maintenance_on(
    env: Annotated[str, typer.Argument(help="The environment.")],
    message: Annotated[str, typer.Option(help="What the page says.")] = "We are down for maintenance.",
) -> None:
    """Answer ENV's names with 503, Retry-After and a page; its health path and its preview name
    still reach the app.

    Example: dockyard maintenance on production --message "Back at 14:00 UTC"
    """
    from dockyard.cli.common import load_app_spec
    from dockyard.errors import UsageError
    from dockyard.router.edge import Edge

    if len(message) > 500:
        raise UsageError(f"--message is {len(message)} characters: at most 500")
    spec = load_app_spec()
    spec.environment(env)
    route = Edge().maintenance(spec.app, env, message)
    console.print(f"{spec.app}/{env}: maintenance on ({', '.join(route.domains)} answer 503)", highlight=False)


@maintenance_app.command("off")
def maintenance_off(env: Annotated[str, typer.Argument(help="The environment.")]) -> None:
    """Serve ENV's names again. Example: dockyard maintenance off production"""
    from dockyard.cli.common import load_app_spec
    from dockyard.router.edge import Edge

    spec = load_app_spec()
    spec.environment(env)
    route = Edge().maintenance(spec.app, env, None)
    console.print(f"{spec.app}/{env}: serving again on {', '.join(route.domains)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(edge_app, name="edge")
    app.add_typer(maintenance_app, name="maintenance")

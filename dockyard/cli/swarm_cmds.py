"""nodes: the Swarm pool that Swarm environments run on."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli.common import console, options, print_json


def _swarm_engines(engine: str | None) -> list[str]:
    from dockyard import settings
    from dockyard.errors import NotFound

    if engine:
        return [engine]
    site = settings.load()
    names = sorted(n for n, e in site.engines.items() if e.swarm)
    if options.spec_file.exists():
        from dockyard.spec import load_spec

        spec = load_spec(options.spec_file)
        used = {spec.environment(e).engine for e in spec.env_names()}
        names = [n for n in names if n in used] or names
    if not names:
        raise NotFound("no Swarm engine is registered",
                       hint="dockyard engine add swarm --host unix:///var/run/docker.sock --swarm")
    return names


def nodes(
    engine: Annotated[str | None, typer.Option("--engine", help="A Swarm engine (default: the app's).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """List the Swarm pool: each node's CPUs, memory, availability, state and the tasks it runs.

    Example: dockyard nodes --json
    """
    from rich.table import Table

    from dockyard.engine.client import connect
    from dockyard.swarm.nodes import pool

    found = {}
    for name in _swarm_engines(engine):
        client = connect(name)
        try:
            found[name] = pool(client)
        finally:
            client.close()
    if as_json:
        print_json([{"engine": name, **row} for name, rows in found.items() for row in rows])
        return
    for name, rows in found.items():
        table = Table("node", "host", "role", "availability", "state", "address", "cpus", "memory", "tasks",
                      title=f"engine {name}")
        for r in rows:
            tasks = ", ".join(f"{t['service']}.{t['slot']}({t['state']})" for t in r["tasks"]) or "-"
            table.add_row(r["id"][:12], r["hostname"], r["role"] + (" *" if r["leader"] else ""), r["availability"],
                          r["state"], r["publish_addr"], f"{r['nano_cpus'] / 1e9:g}",
                          f"{r['memory_bytes'] / 2**30:.1f}G", tasks)
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add nodes. (main.py calls it when one of them runs, or for --help.)"""
    app.command()(nodes)

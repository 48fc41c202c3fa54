"""agent, stats, events: the monitoring commands (thin: parse, call, print)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from dockyard.cli.common import (
    ColorOpt,
    ReleaseOpt,
    ReplicaOpt,
    check_picks,
    console,
    err_console,
    live_scope,
    options,
    print_json,
)
from dockyard.cli.common import JsonOpt as Json

AgentUrl = Annotated[str | None, typer.Option("--agent", help="The agent's URL (default $DOCKYARD_AGENT or "
                                                               "http://127.0.0.1:9180).")]


def _selector(labels: list[str]) -> dict[str, str]:
    from dockyard.errors import UsageError

    out = {}
    for item in labels:
        key, sep, value = item.partition("=")
        if not key:
            raise UsageError(f"--label must be KEY or KEY=VALUE, got {item!r}")
        out[key] = value if sep else ""
    return out


def agent(
    listen: Annotated[str, typer.Option(help="HOST:PORT for /metrics, the API and discovery.")] = "127.0.0.1:9180",
    interval: Annotated[float, typer.Option(help="Seconds between sweeps of the cgroup files.")] = 1.0,
    disk_interval: Annotated[float, typer.Option(help="Seconds between disk measurements of a container.")] = 60.0,
    probe_interval: Annotated[float, typer.Option(help="Seconds between discovery + probe rounds.")] = 10.0,
    retention: Annotated[float, typer.Option(help="Seconds of sample history to keep: the last hour at full "
                                             "resolution, older samples one per container per 5 minutes.")] = 86400.0,
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="A dockyard.yml whose alerts: to apply "
                                                                     "(repeatable).")] = None,
    label: Annotated[list[str] | None, typer.Option("--label", help="Only containers with this label "
                                                                    "(KEY or KEY=VALUE; repeatable).")] = None,
    engine: Annotated[str, typer.Option(help="The engine on this host.")] = "local",
    logs: Annotated[bool, typer.Option("--logs/--no-logs", help="Also run the log forwarder (into the "
                                                                  "embedded store).")] = True,
    edge_log_rotate: Annotated[int, typer.Option(help="Rotate the host edge's access log past this many bytes.",
                                                 min=4096)] = 64 << 20,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each component's start.")] = False,
    insecure: Annotated[bool, typer.Option("--insecure", help="Listen off loopback (the agent has no "
                                                              "authentication).")] = False,
) -> None:
    """Run the host agent in the foreground: metrics from cgroup files, discovery, probes, alerts.

    Example: dockyard agent --listen 127.0.0.1:9180 --rules dockyard.yml
    """
    from dockyard.cli.agent_run import AgentRun, become
    from dockyard.netcheck import check_listen, parse_listen

    check_listen("dockyard agent", parse_listen(listen)[0], tls=False, insecure=insecure)
    _selector(label or [])  # a bad --label is said here, by the CLI
    if rules:  # so is a bad rules file (the agent reads them again: it holds no pydantic without rules)
        from dockyard.monitor.rules import load_rules

        for path in rules:
            load_rules(path)
    # The agent runs as its own lean process (cli/agent_run.py): the same pid, without typer and rich
    become(AgentRun(listen=listen, interval=interval, disk_interval=disk_interval, probe_interval=probe_interval,
                    retention=retention, rules=[str(p) for p in rules or []], labels=list(label or []),
                    engine=engine, logs=logs, edge_log_rotate=edge_log_rotate, verbose=verbose))


def _app_filter(all_apps: bool) -> str | None:
    if all_apps or not options.spec_file.exists():
        return None
    from dockyard.cli.common import read_app_brief

    return read_app_brief().app


def stats(
    env: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    as_json: Json = False,
    all_apps: Annotated[bool, typer.Option("--all", help="Every container, not only this app's.")] = False,
    release: ReleaseOpt = None,
    color: ColorOpt = None,
    replica: ReplicaOpt = None,
    agent_url: AgentUrl = None,
    refresh: Annotated[float, typer.Option(help="Seconds between refreshes of the live table.")] = 1.0,
    count: Annotated[int, typer.Option(help="Stop after this many refreshes (0: until Ctrl-C).")] = 0,
) -> None:
    """Live CPU, memory, network, block I/O and disk per container, from the host agent.

    In an app's folder it shows that app's containers; --all shows every container.
    With ENV they are the live release's, where the traffic goes, unless --release, --color or --replica picks others.
    Example: dockyard stats production --json
    """
    from rich.live import Live
    from rich.table import Table

    from dockyard.monitor.client import STATS_HEADERS, get_json, stats_rows, table_cells
    from dockyard.monitor.client import agent_url as resolve

    url = resolve(agent_url)
    app = _app_filter(all_apps)
    names = _scoped_names(app, env, release, color, replica)
    params = {"app": app, "env": env}

    def samples() -> dict:
        data = get_json(url, "/api/stats", params)
        data["samples"] = [s for s in data["samples"] if names is None or s["name"] in names]
        return data

    if as_json:
        print_json(stats_rows(samples()["samples"]))
        return

    def table() -> Table:
        data = samples()
        t = Table(*STATS_HEADERS, title=f"{data['host']} · {time.strftime('%H:%M:%S')}", title_justify="left")
        for row in stats_rows(data["samples"]):
            full = next(s for s in data["samples"] if s["name"] == row["name"])
            t.add_row(*table_cells(full))
        return t

    with Live(table(), console=console, auto_refresh=False) as live:
        shown = 1
        while count == 0 or shown < count:
            time.sleep(refresh)
            live.update(table(), refresh=True)
            shown += 1


def _scoped_names(app: str | None, env: str | None, release: str | None, color: str | None,
                  replica: int | None) -> frozenset[str] | None:
    """The containers `stats APP ENV` shows: the live release's unless --release, --color or --replica
    picks others (engine/rows.py); None: no limit (no ENV, or not in an app's folder)."""
    check_picks(release, color, replica, has_env=app is not None and env is not None)
    if app is None or env is None:
        return None
    from dockyard.cli.common import load_app_spec
    from dockyard.engine.client import connect

    engine = connect(load_app_spec().environment(env).engine)
    try:
        rows = engine.observe(app, env)
    finally:
        engine.close()
    if not rows:
        return None
    scope = live_scope(rows, app, env, None, release, color, replica)
    return frozenset(r.name for r in rows if scope.admits(r.release, r.name))


def events(
    env: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    as_json: Json = False,
    all_apps: Annotated[bool, typer.Option("--all", help="Every app's events, not only this app's.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    agent_url: AgentUrl = None,
) -> None:
    """Alerts (container down or restarting, memory, failing probe, CPU) with their start and end.

    Example: dockyard events production
    """
    from rich.table import Table

    from dockyard.monitor.client import EVENT_HEADERS, AgentUnavailable, event_cells, get_json
    from dockyard.monitor.client import agent_url as resolve
    from dockyard.notify.listing import merge

    app = _app_filter(all_apps)
    recorded = _recorded(app, env, limit)
    try:
        live = get_json(resolve(agent_url), "/api/events", {"app": app, "env": env, "limit": limit})
    except AgentUnavailable as exc:
        if not recorded:
            raise
        err_console.print(f"warning: {exc.message}; the events the server recorded only")
        live = []
    rows = merge(recorded, live, limit)
    if as_json:
        print_json([alert_json(r) for r in rows])
        return
    if not rows:
        console.print("no alerts")
        return
    table = Table(*EVENT_HEADERS)
    for row in rows:
        table.add_row(*event_cells(row))
    console.print(table)


def _recorded(app: str | None, env: str | None, limit: int) -> list[dict]:
    """The alerts and certificate problems in this home's outbox (none without a state database:
    an agent's own container has none, and `events` must not make one)."""
    from dockyard import settings

    if not (settings.home() / "state.db").exists():
        return []
    from dockyard.notify.listing import recorded_alerts
    from dockyard.state.db import StateDB

    db = StateDB()
    try:
        return recorded_alerts(db, app, env, limit)
    finally:
        db.close()


def alert_json(row: dict) -> dict:
    """An alert in the JSON vocabulary (docs/json/events.schema.json): moments in RFC 3339, absent is null."""
    from dockyard.vocabulary import absent, rfc3339

    return {**{k: absent(v) if isinstance(v, str) else v for k, v in row.items()},
            "started_at": rfc3339(row["started_at"], precise=True), "ended_at": rfc3339(row["ended_at"], precise=True)}


def register(app: typer.Typer) -> None:
    """Add agent, stats and events to a Typer app (main.py, or a test's own app)."""
    app.command()(agent)
    app.command()(stats)
    app.command()(events)


monitor_app = typer.Typer(name="dockyard-monitor", no_args_is_help=True, pretty_exceptions_enable=False,
                          help="Dockyard's monitoring commands on their own (python -m dockyard.monitor).")
register(monitor_app)

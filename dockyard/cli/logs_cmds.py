"""`dockyard logs` (search the log store) and `dockyard forwarder run|status` (the log forwarder)."""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from dockyard.cli.common import (
    ColorOpt,
    ReleaseOpt,
    ReplicaOpt,
    check_picks,
    err_console,
    live_scope,
    options,
    print_json,
)

forwarder_app = typer.Typer(help="The log forwarder: follow container logs, spool, ship.\n\n"
                                 "Example: dockyard forwarder status", no_args_is_help=True)


def _store_path(store: Path | None) -> Path:
    from dockyard.logs.paths import default_state_dir

    return store or default_state_dir() / "store.db"


def _spec_app() -> str | None:
    """The app of ./dockyard.yml when there is one: `dockyard logs` in an app's folder means that app."""
    if not options.spec_file.exists():
        return None
    from dockyard.cli.common import read_app_brief

    return read_app_brief().app


def logs(
    env: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    service: Annotated[str | None, typer.Argument(help="Only this service.")] = None,
    since: Annotated[str | None, typer.Option(help="Only lines newer than this: 30s, 10m, 2h, 1d.")] = None,
    grep: Annotated[str | None, typer.Option(help="Only lines containing this text (starting at a word).")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines as they arrive.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts (one object a line with -f).")] = False,
    app: Annotated[str | None, typer.Option(help="The app (default: the one in ./dockyard.yml, else all).")] = None,
    container: Annotated[str | None, typer.Option(help="Only this container (name or id prefix).")] = None,
    release: ReleaseOpt = None,
    color: ColorOpt = None,
    replica: ReplicaOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many lines.")] = 100,
    store: Annotated[Path | None, typer.Option(help="The log store (default: $DOCKYARD_HOME/logs/store.db).",
                                               envvar="DOCKYARD_LOG_STORE")] = None,
    follow_for: Annotated[float | None, typer.Option(hidden=True)] = None,
) -> None:
    """Search the logs of every container of an app, newest first, or follow them live.

    With ENV they are the live release's, where the traffic goes, unless --release, --color or --replica picks others.
    Containers that no longer exist are included. Example: dockyard logs production web --since 10m --grep timeout
    """
    from dockyard.engine.rows import Scope
    from dockyard.errors import UsageError
    from dockyard.logs.query import Query, parse_since

    check_picks(release, color, replica, has_env=bool(env and app is None and options.spec_file.exists()))
    since_ns = parse_since(since) if since else None
    show = Shown(since_ns, grep, container, limit, follow, as_json, follow_for)
    if not (env and app is None and options.spec_file.exists()):
        _from_store(Query(app=app or _spec_app(), env=env, service=service, container=container, since_ns=since_ns,
                          grep=grep, limit=limit), store, show)
        return
    from dockyard import settings
    from dockyard.cli.common import read_app_brief
    from dockyard.engine.client import connect

    brief = read_app_brief()
    engine_name = brief.engine(env)
    from dockyard.logs.edge_access import EDGE_SERVICE

    # an accessory's lines, or the edge's access log of the environment: no release, colour or replica
    accessory = service is not None and (service in brief.accessories_of(env) or service == EDGE_SERVICE)
    if service is not None and not accessory:
        brief.check_service(service)  # not found: says which there are
    if accessory and (release or color or replica is not None):
        raise UsageError(f"{service} has no releases, colours or replicas (an accessory, or the edge)")
    swarm, stored = settings.engine(engine_name).swarm, _store_path(store).exists()
    picks = color is not None or replica is not None
    engine = connect(engine_name) if swarm or not stored or picks else None
    try:
        if accessory:
            scope = Scope(said=f"{service} (no releases)")
        else:

            rows = engine.observe(brief.app, env) if engine is not None and picks else []
            scope = live_scope(rows, brief.app, env, service, release, color, replica)
        hint = " (--release all: every release)" if scope.release and not release else ""
        err_console.print(f"{brief.app}/{env}: {scope.said}{hint}", highlight=False, markup=False)
        if swarm:  # the manager gathers every node's task logs
            from dockyard.swarm.logs import SwarmLogs

            assert engine is not None
            _show(SwarmLogs(engine, brief.app, env, service, scope), show)
        elif stored:
            _from_store(Query(app=brief.app, env=env, service=service, container=container, since_ns=since_ns,
                              grep=grep, limit=limit, scope=scope), store, show)
        else:  # no agent keeps a store on this host: the engine's own logs of the environment's containers
            import socket

            from dockyard.logs.engine_source import EngineLogs

            assert engine is not None
            err_console.print("no log store here (`dockyard agent` keeps one, with the lines of removed containers):"
                              f" reading the engine's logs of {brief.app}/{env}", highlight=False, markup=False)
            _show(EngineLogs(engine, brief.app, env, service, socket.gethostname(), scope), show)
    finally:
        if engine is not None:
            engine.close()


@dataclass(frozen=True)
class Shown:
    """How the lines are shown: which, how many, followed or not, as text or JSON."""

    since_ns: int | None
    grep: str | None
    container: str | None
    limit: int
    follow: bool
    as_json: bool
    follow_for: float | None


def _from_store(q: Any, store: Path | None, show: Shown) -> None:
    """The host's log store (the agent's forwarder fills it), removed containers' lines included."""
    import time

    from dockyard.logs.query import follow as follow_lines
    from dockyard.logs.query import last_id, search
    from dockyard.logs.store import LogStore

    db = LogStore(_store_path(store), readonly=True)
    try:
        found = search(db, q)
        if show.as_json and not show.follow:
            print_json([line.as_dict() for line in found])
            return
        lines = list(reversed(found))
        out = sys.stdout
        for line in lines:
            out.write(_render(line, show.as_json))
        out.flush()
        if show.follow:
            start = lines[-1].id if lines else last_id(db)
            until = time.monotonic() + show.follow_for if show.follow_for else None
            for line in follow_lines(db, q, start, until=until):
                out.write(_render(line, show.as_json))
                out.flush()
    finally:
        db.close()


def _show(reader: Any, show: Shown) -> None:
    """Print a reader's recent lines (its `recent`), then, with --follow, the new ones (its `follow`)."""
    import time

    lines = reader.recent(show.since_ns, show.grep, show.container, show.limit)
    if show.as_json and not show.follow:
        print_json([line.as_dict() for line in reversed(lines)])  # newest first, as from the store
        return
    for line in lines:
        sys.stdout.write(_render(line, show.as_json))
    sys.stdout.flush()
    if show.follow:
        start = lines[-1].time_ns + 1 if lines else time.time_ns()
        until = time.monotonic() + show.follow_for if show.follow_for else None
        for line in reader.follow(start, show.grep, show.container, until=until):
            sys.stdout.write(_render(line, show.as_json))
            sys.stdout.flush()


def _render(line, as_json: bool) -> str:  # type: ignore[no-untyped-def]
    if as_json:
        return orjson.dumps(line.as_dict()).decode() + "\n"
    where = "/".join(p for p in (line.env, line.service) if p)
    return f"{line.time} {line.host} {line.container}{' ' + where if where else ''} {line.stream}: {line.message}\n"


@forwarder_app.command("run")
def forwarder_run(
    sink: Annotated[list[str] | None, typer.Option("--sink", help="Where to ship (repeatable): store | "
                                                   "syslog+tcp://H:P | elasticsearch+http://H:P/INDEX | "
                                                   "loki+http://H:P")] = None,
    containers_root: Annotated[Path, typer.Option(help="Docker's container folder (read-only is enough).")] = Path(
        "/var/lib/docker/containers"),
    state: Annotated[Path | None, typer.Option(help="Spool, positions and store folder "
                                                    "(default: $DOCKYARD_HOME/logs).")] = None,
    label: Annotated[list[str] | None, typer.Option(help="Only containers with this label (KEY or KEY=VALUE, "
                                                         "repeatable).")] = None,
    host: Annotated[str | None, typer.Option(help="The host tag (default: the engine's host name).")] = None,
    docker_host: Annotated[str, typer.Option(help="Engine for container events; '' for folder scans only.",
                                             envvar="DOCKER_HOST")] = "unix:///var/run/docker.sock",
    spool_max: Annotated[int, typer.Option(help="Spool size bound in MiB; reading pauses when full.")] = 256,
    sync: Annotated[str, typer.Option(help="SQLite synchronous for the spool: NORMAL (survives a crash of "
                                           "the process) or FULL (also a power loss).")] = "NORMAL",
    via_spool: Annotated[bool, typer.Option(help="Spool even when the embedded store is the only sink "
                                                 "(by default its lines go straight into it).")] = False,
) -> None:
    """Run the log forwarder until SIGTERM/SIGINT: follow every container's json-file log, tag it, spool it
    on disk and ship it at least once.

    Example: dockyard forwarder run --sink store --sink loki+http://127.0.0.1:3100
    """
    from dockyard.logs.forwarder import Forwarder, ForwarderConfig
    from dockyard.logs.meta import parse_selectors
    from dockyard.logs.paths import default_state_dir

    config = ForwarderConfig(containers_root=containers_root, state_dir=state or default_state_dir(),
                             sinks=sink or ["store"], selectors=parse_selectors(label or []), host=host,
                             docker_host=docker_host or None, spool_max_bytes=spool_max << 20,
                             synchronous=sync.upper(), direct=not via_spool)
    import faulthandler

    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 PID` prints every thread's stack
    forwarder = Forwarder(config)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    forwarder.run(stop)


@forwarder_app.command("status")
def forwarder_status(
    state: Annotated[Path | None, typer.Option(help="The forwarder's state folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """What waits in the spool, where each sink is, and every recorded loss and rejected line.

    Example: dockyard forwarder status --json
    """
    from dockyard.logs.paths import default_state_dir
    from dockyard.logs.status import read_status

    report = read_status(state or default_state_dir())
    if as_json:
        print_json(report)
        return
    spool = report["spool"]
    if report["direct"]:
        typer.echo("direct mode: lines go straight into the embedded store (no spool)")
    typer.echo(f"spool: {spool['lines']} lines in {spool['batches']} batches ({spool['bytes']} bytes)")
    for name, ack in report["acks"].items():
        typer.echo(f"sink {name}: acknowledged up to batch {ack}")
    typer.echo(f"containers with a saved position: {report['positions']}")
    typer.echo(f"losses: {len(report['losses'])}")
    for loss in report["losses"]:
        typer.echo(f"  {loss['container_id'][:12]}: {loss['what']}")
    typer.echo(f"rejected: {sum(r['lines'] for r in report['rejects'])} lines")
    for rej in report["rejects"]:
        typer.echo(f"  {rej['sink']} {rej['container_id'][:12]}: {rej['lines']} lines: {rej['reason']}")


# A Typer app of its own, for tests and `python -m dockyard.logs`, until main.py registers these.
cli = typer.Typer(name="dockyard", no_args_is_help=True, pretty_exceptions_enable=False)
cli.command()(logs)
cli.add_typer(forwarder_app, name="forwarder")


def register(app: typer.Typer) -> None:
    """Add logs and the forwarder group. (main.py calls it when one of them runs, or for --help.)"""
    app.command()(logs)
    app.add_typer(forwarder_app, name="forwarder")

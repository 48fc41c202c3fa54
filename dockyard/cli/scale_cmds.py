"""scale and autoscale: manual overrides, the autoscaling loop, its decisions (thin: parse, call, print)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from dockyard.cli.common import JsonOpt as Json
from dockyard.cli.common import console, load_app_spec, options, print_json, result, say
from dockyard.vocabulary import absent, rfc3339

AgentUrl = Annotated[str | None, typer.Option("--agent", help="The agent's URL (default $DOCKYARD_AGENT, settings "
                                                               "agent_url, or http://127.0.0.1:9180).")]

autoscale_app = typer.Typer(no_args_is_help=True, help="The autoscaler: its loop, its decisions, which apps it "
                                                       "scales.\n\nExample: dockyard autoscale status")


def _autoscaler(agent: str | None = None, quiet: bool = False) -> Any:
    from dockyard.scale.loop import AgentMetrics, Autoscaler
    from dockyard.state.db import StateDB

    return Autoscaler(StateDB(), AgentMetrics(agent), report=(lambda _l: None) if quiet else say)


def scale(
    env: Annotated[str, typer.Argument(help="Environment.")],
    service: Annotated[str, typer.Argument(help="Service.")],
    replicas: Annotated[int | None, typer.Argument(help="Replicas to hold (within the scaling min..max).")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Drop the override: the autoscaler decides again.")] = False,
    as_json: Json = False,
) -> None:
    """Set a service's replica count by hand; the autoscaler holds it (within min..max) until --clear.

    Example: dockyard scale production web 4   then later: dockyard scale production web --clear
    """
    from dockyard.errors import UsageError
    from dockyard.scale.store import ScaleStore
    from dockyard.settings import author
    from dockyard.state.lock import refuse_if_locked_by_hand

    spec = load_app_spec()
    spec.environment(env)
    spec.service(service)
    if clear == (replicas is not None):
        raise UsageError("give either a replica count or --clear", hint=f"dockyard scale {env} {service} 3")
    if replicas is not None and replicas < 0:
        raise UsageError(f"replicas must be 0 or more, got {replicas}")
    writers = spec.service(service).writers()
    if replicas is not None and replicas > 1 and writers:
        raise UsageError(f"{spec.where('services', service, 'volumes')}: {service} cannot run {replicas} replicas: its "
                         f"volume {writers[0].name} is written by one container at a time",
                         hint="set shared: true on the volume if the app allows several writers")
    scaler = _autoscaler(quiet=as_json)
    store = ScaleStore(scaler.db)
    if not clear:
        refuse_if_locked_by_hand(spec.app, env)  # before the override is written: nothing half-applied
    if clear:
        had = store.clear_override(spec.app, env, service)
        if as_json:
            print_json({"app": spec.app, "env": env, "service": service, "cleared": had})
        else:
            say(f"{spec.app}/{env}/{service}: " + ("override cleared; the autoscaler decides again" if had
                                                    else "had no override"))
        return
    assert replicas is not None
    store.set_override(spec.app, env, service, replicas, author())
    result = scaler.evaluate(spec, env, service, wait=True)
    d = result.decision
    if as_json:
        print_json({"app": spec.app, "env": env, "service": service, "override": replicas, "event_id": result.event_id,
                    "current": d.current, "desired": d.desired, "reason": d.reason, "outcome": result.outcome})
        return
    say(f"{spec.app}/{env}/{service}: held at {d.desired} ({d.reason}); {result.outcome or 'nothing to do'}")
    if result.outcome.startswith("failed"):
        raise typer.Exit(1)


@autoscale_app.command()
def run(
    once: Annotated[bool, typer.Option("--once", help="Evaluate every scaled service once, then exit.")] = False,
    agent: AgentUrl = None,
    enabled: Annotated[bool, typer.Option("--enabled", help="Scale the apps of `autoscale enable`, not the "
                                                              "folder's app.")] = False,
    as_json: Json = False,
) -> None:
    """Run the autoscaling loop in the foreground (for hosts without `dockyard server`).

    In an app's folder it scales that app; with --enabled the apps registered by `autoscale enable`.
    Example: dockyard autoscale run --once --json
    """
    import threading

    from dockyard.scale.loop import EnabledSpecs
    from dockyard.scale.store import ScaleStore

    scaler = _autoscaler(agent, quiet=as_json)
    specs: Callable[[], list[Any]]
    if enabled or not options.spec_file.exists():
        specs = EnabledSpecs(ScaleStore(scaler.db))
    else:
        spec = load_app_spec()
        specs = lambda: [spec]  # noqa: E731
    if once:
        done = scaler.tick(specs(), force=True)
        if as_json:
            print_json([event_json({"id": e.event_id, "app": e.app, "env": e.env, "service": e.service,
                                    **e.decision.record(), "outcome": e.outcome}) for e in done])
        else:
            for e in done:
                say(f"{e.app}/{e.env}/{e.service}: {e.decision.action} {e.decision.current} -> "
                    f"{e.decision.desired}: {e.decision.reason}" + (f" [{e.outcome}]" if e.outcome else ""))
        return
    stop = threading.Event()
    # SIGTERM (systemd's stop, a supervisor's) ends it as Ctrl-C does: after the tick in progress
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    say(f"autoscaler reading {scaler.metrics.url} (Ctrl-C to stop)")
    try:
        scaler.run_forever(stop, specs)
    except KeyboardInterrupt:
        stop.set()


def _scope() -> tuple[str, list[str]]:
    spec = load_app_spec()
    return spec.app, spec.env_names()


@autoscale_app.command()
def status(
    env: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    as_json: Json = False,
    changes: Annotated[int, typer.Option(help="Show this many recent scaling changes per service.")] = 5,
) -> None:
    """Each scaled service: its range and targets, the override, the last decision and recent changes.

    Example: dockyard autoscale status production --json
    """
    from rich.table import Table

    from dockyard.scale.store import ScaleStore
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    store = ScaleStore(StateDB())
    rows = []
    for name in [env] if env else spec.env_names():
        scaling = spec.environment(name).scaling
        for service in sorted(set(scaling) | {s for s in spec.services if store.override(spec.app, name, s)}):
            rule, override = scaling.get(service), store.override(spec.app, name, service)
            last = store.events(spec.app, name, service, limit=1)
            rows.append({
                "env": name, "service": service,
                "min": rule.min if rule else None, "max": rule.max if rule else None,
                "cpu_target": rule.cpu_target if rule else None, "memory_target": rule.memory_target if rule else None,
                "requests_target": rule.requests_target if rule else None,
                "period": rule.period if rule else None,
                "alarms": _alarm_rows(rule, last[0] if last else None),
                "scale_down_window": rule.scale_down_window if rule else None,
                "override": override.replicas if override else None,
                "last": last[0] if last else None,
                "changes": store.events(spec.app, name, service, limit=changes, changes_only=True)})
    if as_json:
        print_json([{**r, "last": event_json(r["last"]) if r["last"] else None,
                     "changes": [event_json(e) for e in r["changes"]]} for r in rows])
        return
    if not rows:
        console.print("no service has scaling: in dockyard.yml (nor a `dockyard scale` override)")
        return
    table = Table("env", "service", "range", "target", "override", "replicas", "last decision", "at")
    for r in rows:
        last = r["last"]
        target = ", ".join([f"{k.split('_')[0]} {r[k]:g}{'/s' if k == 'requests_target' else '%'}"
                            for k in ("cpu_target", "memory_target", "requests_target") if r[k]]
                           + [f"{a['name']} {a['state'] or '?'}" for a in r["alarms"]])
        table.add_row(r["env"], r["service"], f"{r['min']}..{r['max']}" if r["min"] is not None else "-",
                      target or "-", str(r["override"] or "-"),
                      f"{last['current']} -> {last['desired']}" if last else "-",
                      (last["reason"] + (f" [{last['outcome']}]" if last["outcome"] else "")) if last else "none yet",
                      time.strftime("%H:%M:%S", time.localtime(last["at"])) if last else "-")
    console.print(table)
    for r in rows:
        for e in r["changes"]:
            say(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(e['at']))} {r['env']}/{r['service']} "
                f"{e['action']} {e['current']} -> {e['desired']}: {e['reason']} [{e['outcome']}]")


def event_json(e: dict) -> dict:
    """A scaling decision in the JSON vocabulary (docs/json/autoscale-event.schema.json)."""
    out = {k: v for k, v in e.items() if k not in ("id", "at")}
    return {"event_id": e["id"], "created_at": rfc3339(e["at"], precise=True), **out,
            "outcome": absent(e.get("outcome"))}


def _alarm_rows(rule, last: dict | None) -> list[dict]:
    """Each alarm of the rule with its state in the last decision."""
    if rule is None:
        return []
    from dockyard.scale.alarms import Alarm

    states = {a["name"]: a for a in ((last or {}).get("inputs") or {}).get("alarms") or []}
    rows = []
    for i, spec in enumerate(rule.alarms, 1):
        alarm = Alarm.from_spec(spec, i)
        seen = states.get(alarm.name, {})
        rows.append({"name": alarm.name, "metric": alarm.metric, "statistic": alarm.statistic,
                     "comparison": alarm.comparison, "threshold": alarm.threshold, "period": alarm.period,
                     "evaluation_periods": alarm.evaluation_periods, "datapoints_to_alarm": alarm.datapoints_to_alarm,
                     "cooldown": alarm.cooldown, "state": seen.get("state"), "value": seen.get("value")})
    return rows


@autoscale_app.command()
def events(
    env: Annotated[str | None, typer.Argument(help="Only this environment.")] = None,
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    holds: Annotated[bool, typer.Option("--holds", help="Also the decisions that kept the count.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: Json = False,
) -> None:
    """The autoscaler's decisions, newest first, with their inputs (--json) and reason.

    Example: dockyard autoscale events production --holds --json
    """
    from dockyard.scale.store import ScaleStore
    from dockyard.state.db import StateDB

    app, _ = _scope()
    rows = ScaleStore(StateDB()).events(app, env, service, limit=limit, changes_only=not holds)
    if as_json:
        print_json([event_json(e) for e in rows])
        return
    if not rows:
        console.print("no scaling decisions" + ("" if holds else " that changed a count (--holds shows all)"))
    for e in rows:
        say(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(e['at']))} {e['env']}/{e['service']} "
            f"{e['action']} {e['current']} -> {e['desired']}: {e['reason']}" + (f" [{e['outcome']}]" if e["outcome"]
                                                                              else ""))


@autoscale_app.command()
def enable(as_json: Json = False) -> None:
    """Let `dockyard server` (and `autoscale run --enabled`) scale this folder's app, from its dockyard.yml.

    Example: cd /srv/shop && dockyard autoscale enable
    """
    from dockyard.scale.store import ScaleStore
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    ScaleStore(StateDB()).enable(spec.app, options.spec_file)
    scaled = [f"{e}/{s}" for e, env in spec.environments.items() for s in env.scaling]
    result(as_json, {"app": spec.app, "enabled": True, "spec_file": str(options.spec_file.resolve()),
                     "scaled": scaled},
           f"{spec.app}: the server's autoscaler reads {options.spec_file.resolve()} "
           f"({', '.join(scaled) or 'no service has scaling: yet'})")


@autoscale_app.command()
def disable(as_json: Json = False) -> None:
    """Stop scaling this folder's app from the server (replicas stay as they are).

    Example: dockyard autoscale disable
    """
    from dockyard.scale.store import ScaleStore
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    had = ScaleStore(StateDB()).disable(spec.app)
    result(as_json, {"app": spec.app, "enabled": False, "was_enabled": had},
           f"{spec.app}: " + ("no longer scaled by the server" if had else "was not enabled"))


def register(app: typer.Typer) -> None:
    app.command()(scale)
    app.add_typer(autoscale_app, name="autoscale")

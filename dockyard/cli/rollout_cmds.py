"""rollout: a canary rollout of an environment (strategy: canary): where it is, and a person's say in it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dockyard.cli.common import JsonOpt, console, read_app_brief, result

rollout_app = typer.Typer(no_args_is_help=True, help="Canary rollouts: where one is, with the numbers of every "
                                                     "step; promote, pause, resume or abort it.\n\nExample: "
                                                     "dockyard rollout status production")
EnvArg = Annotated[str, typer.Argument(help="Environment name from dockyard.yml.")]


def _latest(env: str) -> tuple[str, Any, Any]:
    from dockyard.deploy.rollout_store import RolloutStore
    from dockyard.state.db import StateDB

    brief = read_app_brief()
    brief.engine(env)  # an environment the spec defines
    db = StateDB()
    return brief.app, db, RolloutStore(db).latest(brief.app, env)


def _lines(row: Any) -> list[str]:
    steps = ", ".join(f"{s['weight']}%/{s['pause']:g}s" for s in row.steps)
    lines = [f"{row.app}/{row.env}: canary of release {row.release_id} beside {row.stable_release}: {row.state}, "
             f"step {row.step + 1} of {len(row.steps)} at {row.weight}% (steps {steps})"]
    if row.reason:
        lines.append(f"  {row.reason}")
    if row.active and row.window:
        c, s = row.window["canary"], row.window["stable"]
        lines.append(f"  now: canary {c['requests']} req, 5xx {c['ratio_5xx']:.2%}, p95 {c['p95_ms']} ms; stable "
                     f"{s['requests']} req, 5xx {s['ratio_5xx']:.2%}, p95 {s['p95_ms']} ms; {row.window['decision']}")
    for done in row.results:
        c, s = done["canary"], done["stable"]
        lines.append(f"  step {done['step']} {done['weight']}% {done['seconds']}s -> {done['decision']}: canary "
                     f"{c['requests']} req, 5xx {c['ratio_5xx']:.2%}, p95 {c['p95_ms']} ms; stable {s['requests']} "
                     f"req, 5xx {s['ratio_5xx']:.2%}, p95 {s['p95_ms']} ms; {done['reason']}")
    return lines


@rollout_app.command("status")
def status(env: EnvArg, as_json: JsonOpt = False) -> None:
    """The environment's latest canary rollout: its state, step and weight, and the analysis of every
    step with its numbers (canary beside stable over the same window).

    Example: dockyard rollout status production --json
    """
    app, db, row = _latest(env)
    try:
        if row is None:
            result(as_json, {"app": app, "env": env, "rollout": None}, f"{app}/{env} has had no canary rollout")
            return
        holder = None
        if row.active:  # who drives it
            from dockyard.state.lock import running_holder

            holder = running_holder(app, env)
        data = {**row.as_json(), "driver": holder.as_json() if holder else None}
        result(as_json, {"app": app, "env": env, "rollout": data}, *_lines(row))
        if row.active and not as_json and holder is None:
            console.print(f"  nobody drives it: `dockyard server` takes it over, or `dockyard rollout resume {env}`",
                          highlight=False, markup=False)
    finally:
        db.close()


def _ask(env: str, request: str, as_json: bool) -> None:
    """Ask the rollout's driver to carry `request` out; where nobody drives it, this command does."""
    from dockyard import settings
    from dockyard.deploy.rollout import ask

    app, db, _row = _latest(env)
    try:
        say = (lambda line: None) if as_json else (
            lambda line: console.print(line, highlight=False, markup=False))
        fresh = ask(db, app, env, request, settings.author(), say, drive_here=True)
        result(as_json, {"app": app, "env": env, "rollout": fresh.as_json()}, *_lines(fresh))
    finally:
        db.close()


@rollout_app.command("promote")
def promote(env: EnvArg, full: Annotated[bool, typer.Option("--full", help="Skip the steps left: the canary "
                                                                         "serves every request now.")] = False,
            as_json: JsonOpt = False) -> None:
    """Move the canary to its next step now (its analysis so far aside), or with --full to every request.

    Example: dockyard rollout promote production --full
    """
    _ask(env, "promote-full" if full else "promote", as_json)


@rollout_app.command("pause")
def pause(env: EnvArg, as_json: JsonOpt = False) -> None:
    """Hold the canary at its weight until `rollout resume`; a failing analysis still aborts it.

    Example: dockyard rollout pause production
    """
    _ask(env, "pause", as_json)


@rollout_app.command("resume")
def resume(env: EnvArg, as_json: JsonOpt = False) -> None:
    """Go on from a pause (the step's pause starts again); where nobody drives the rollout, drive it here.

    Example: dockyard rollout resume production
    """
    _ask(env, "resume", as_json)


@rollout_app.command("abort")
def abort(env: EnvArg, as_json: JsonOpt = False) -> None:
    """Abort the canary: weight 0 at once, its replicas stopped, the release marked aborted.

    Example: dockyard rollout abort production
    """
    _ask(env, "abort", as_json)


def register(app: typer.Typer) -> None:
    app.add_typer(rollout_app, name="rollout")

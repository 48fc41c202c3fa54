"""jobs: the scheduled jobs of dockyard.yml (`jobs:`), run by `dockyard server`: which apps it runs
them for (enable, disable), what each environment has (ls), their history (runs), and a run by hand
(run-now)."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

from dockyard.cli.common import JsonOpt, console, load_app_spec, result
from dockyard.vocabulary import rfc3339

jobs_app = typer.Typer(no_args_is_help=True, help="Scheduled jobs (jobs: in dockyard.yml), run by `dockyard "
                                                  "server` in one-off containers of the live release.\n\n"
                                                  "Example: dockyard jobs ls production")

EnvArg = Annotated[str, typer.Argument(help="Environment name from dockyard.yml.")]


@jobs_app.command("enable")
def enable(as_json: JsonOpt = False) -> None:
    """Have `dockyard server` run this app's jobs, from this dockyard.yml (an operator's checkout: a
    commit never decides it). A job starts from its next moment on.

    Example: dockyard jobs enable
    """
    from dockyard.cli.common import options
    from dockyard.jobs.store import JobStore
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    db = StateDB()
    try:
        JobStore(db).enable(spec.app, options.spec_file)
    finally:
        db.close()
    names = [job.name for job in spec.jobs]
    result(as_json, {"app": spec.app, "enabled": True, "jobs": names},
           f"{spec.app}: the server runs " + (", ".join(names) if names else "no job yet (no jobs: in dockyard.yml)"))


@jobs_app.command("disable")
def disable(as_json: JsonOpt = False) -> None:
    """Stop `dockyard server` running this app's jobs (a run that runs now goes on to its end).

    Example: dockyard jobs disable
    """
    from dockyard.jobs.store import JobStore
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    db = StateDB()
    try:
        gone = JobStore(db).disable(spec.app)
    finally:
        db.close()
    result(as_json, {"app": spec.app, "enabled": False, "was_enabled": gone},
           f"{spec.app}: " + ("the server runs its jobs no more" if gone else "its jobs were not enabled"))


@jobs_app.command("ls")
def ls(env: EnvArg, as_json: JsonOpt = False) -> None:
    """The jobs of ENV: schedule, concurrency, next run, and how the last run went.

    Example: dockyard jobs ls production
    """
    from dockyard.jobs.plan import next_at
    from dockyard.jobs.runner import kind_of
    from dockyard.jobs.store import JobStore
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    spec.environment(env)
    db = StateDB()
    try:
        enabled = any(app == spec.app for app, _ in JobStore(db).apps())
        rows: list[dict[str, Any]] = []
        for job in spec.jobs:
            if not job.runs_in(env):
                continue
            last = db.task_runs(spec.app, env, kind_of(job.name), limit=1)
            rows.append({"name": job.name, "schedule": job.schedule, "command": job.command,
                         "concurrency": job.concurrency, "skip_missed": job.skip_missed, "timeout": job.timeout,
                         "next_run": rfc3339(next_at(job.schedule, time.time())) if enabled else None,
                         "last_run": _run_json(last[0]) if last else None})
    finally:
        db.close()
    if as_json:
        result(True, {"app": spec.app, "env": env, "enabled": enabled, "jobs": rows})
        return
    if not rows:
        console.print(f"{spec.app}/{env}: no jobs", highlight=False, markup=False)
    for row in rows:
        last = row["last_run"]
        said = f"last {last['status']} at {last['started_at']}" if last else "never ran"
        console.print(f"{row['name']:<20} {row['schedule']:<16} {row['concurrency']:<8} next "
                      f"{row['next_run'] or '- (not enabled: dockyard jobs enable)'}  {said}",
                      highlight=False, markup=False)


@jobs_app.command("runs")
def runs(
    env: EnvArg,
    job: Annotated[str | None, typer.Option("--job", help="Only this job's runs.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many runs.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The history of ENV's job runs, newest first: job, status, exit code, duration, when it was due.

    Example: dockyard jobs runs production --job cleanup
    """
    from dockyard.jobs.runner import kind_of
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    spec.environment(env)
    if job is not None:
        spec.job(job)
    db = StateDB()
    try:
        found = db.task_runs(spec.app, env, kind_of(job) if job else "job.", limit=limit)
    finally:
        db.close()
    rows = [_run_json(run) for run in found]
    if as_json:
        result(True, rows)
        return
    for row in rows:
        took = f"{row['seconds']}s" if row["seconds"] is not None else "-"
        code = row["exit_code"] if row["exit_code"] is not None else "-"
        console.print(f"{row['started_at']}  {row['job']:<20} {row['status']:<10} exit {code:<4} {took:<10} "
                      f"{row['container']}", highlight=False, markup=False)


@jobs_app.command("run-now")
def run_now(env: EnvArg, job: Annotated[str, typer.Argument(help="The job's name in dockyard.yml.")]) -> None:
    """Run JOB of ENV now, in a one-off container of the live release, and wait for it: its output as
    it is written, its exit code this command's. Kept in its history like a scheduled run; under
    concurrency: forbid it is refused while a run of the job runs.

    Example: dockyard jobs run-now production cleanup
    """
    from dockyard.config.service import open_config_service
    from dockyard.engine.client import connect
    from dockyard.jobs.runner import JobRunner
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    chosen = spec.job(job)
    if not chosen.runs_in(env):
        from dockyard.errors import UsageError

        raise UsageError(f"job {job} does not run in {env} (its environments: {', '.join(chosen.environments or [])})")
    db = StateDB()
    engine = connect(spec.environment(env).engine)
    try:
        runner = JobRunner(db, open_config_service, connect, lambda line: print(line, file=sys.stderr))
        run = runner.run_now(spec, env, chosen, engine, progress=lambda line: print(line, flush=True))
    finally:
        engine.close()
        db.close()
    raise typer.Exit(124 if run.timed_out else run.exit_code if run.exit_code is not None else 1)


def _run_json(run: Any) -> dict[str, Any]:
    return {"job": run.kind.removeprefix("job."), "container": run.container, "release_id": run.release_id or None,
            "due_at": rfc3339(run.due_at), "output": run.output, **run.as_json()}


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")

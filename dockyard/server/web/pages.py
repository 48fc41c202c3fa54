"""The dashboard's pages about apps: the list, an app's environments side by side, an environment's
releases with the config diff between two, rollback and promotion, and the audit log (admin).

Pages read what the JSON API reads (dockyard/server/overview.py, actions.py); a form's action is
the same call the API makes, so the scope a token lacks is refused there, whatever a page showed.
"""

from __future__ import annotations

import re
import time
from functools import lru_cache

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dockyard.deploy.rollout_store import RolloutStore
from dockyard.errors import DockyardError, NotFound, UsageError
from dockyard.jobs.plan import next_at
from dockyard.jobs.runner import kind_of
from dockyard.jobs.store import JobStore
from dockyard.pipeline import previews
from dockyard.pipeline.preview_store import PreviewStore
from dockyard.pipeline.store import AppRecord, RunStore
from dockyard.server import actions
from dockyard.server.deps import Db, source_of
from dockyard.server.overview import diff_releases, overview
from dockyard.server.poller import app_spec
from dockyard.server.rollouts_api import ask_rollout, rollout_json
from dockyard.server.web.login import PageSession, checked_form
from dockyard.server.web.render import page
from dockyard.state.audit import AuditLog
from dockyard.state.db import TaskRecord

router = APIRouter(include_in_schema=False)

# What a redirect after a form may say: a fixed set, so no request puts words on a page.
DONE = {"rolled-back": "Rolled back.", "promoted": "Promoted.", "approved": "Approved: the run goes on.",
        "cancelled": "Cancelled.", "rollout-promote": "The canary went to its next step.",
        "rollout-promote-full": "The canary serves every request.", "rollout-pause": "The canary is paused.",
        "rollout-resume": "The canary goes on.", "rollout-abort": "The canary was aborted.",
        "preview-up": "The preview's run is queued.", "preview-down": "The preview's take-down is queued."}
ROLLOUT_ACTIONS = ("promote", "promote-full", "pause", "resume", "abort")


@router.get("/")
def apps(request: Request, db: Db, session: PageSession) -> Response:
    store = RunStore(db)
    rows = []
    for record in (r for r in store.apps() if session.token.reaches(r.name)):
        last = store.runs(record.name, limit=1)
        rows.append({"name": record.name, "repo": record.repo, "last": last[0] if last else None})
    return page(request, "apps.html", session, apps=rows)


@router.get("/apps/{app}")
def app_page(app: str, request: Request, db: Db, session: PageSession) -> Response:
    store = RunStore(db)
    spec, commit = actions.spec_of(store, store.app(app))
    return page(request, "app.html", session, data=overview(db, spec, commit), done=DONE.get(
        request.query_params.get("done", "")), runs=store.runs(app, limit=5),
        previews=[r.as_json() for r in PreviewStore(db).rows(app) if r.state != "closed"],
        has_previews=spec.previews is not None)


@router.post("/apps/{app}/previews/up")
async def preview_up(app: str, request: Request, db: Db, session: PageSession) -> Response:
    """The "open a preview" form: what POST /api/apps/{app}/previews/{number} does."""
    fields = await checked_form(request, session)
    number, ref = fields.get("number", ""), fields.get("ref", "").strip()
    actions.refuse_unless(db, session.token, "trigger", None, source(request), "preview up", f"{app}/previews")
    problem = None
    if not number.isdigit() or not 1 <= int(number) <= 999_999_999:
        problem = f"{number[:40]!r} is not a pull request number"
    elif ref and not re.fullmatch(r"refs/[A-Za-z0-9._/-]{1,195}", ref):
        problem = f"{ref[:200]!r} is not a ref (refs/pull/7/head, refs/heads/NAME)"
    if problem is not None:  # a refusal is a row too
        AuditLog(db).record(session.token.name, source(request), "preview up", f"{app}/previews", f"failed: {problem}")
        raise UsageError(problem)
    event = previews.PreviewEvent(number=int(number), move="update", head_ref=ref)
    await run_in_threadpool(previews.request, db, app, event, session.token.name, source(request))
    return RedirectResponse(f"/apps/{app}?done=preview-up", status_code=303)


@router.post("/apps/{app}/previews/{number}/down")
async def preview_down(app: str, number: int, request: Request, db: Db, session: PageSession) -> Response:
    """A preview's "take down" button: what DELETE /api/apps/{app}/previews/{number} does."""
    await checked_form(request, session)
    actions.refuse_unless(db, session.token, "trigger", None, source(request), "preview down", f"{app}/pr-{number}")
    await run_in_threadpool(previews.close, db, app, number, session.token.name, source(request),
                            "taken down from the dashboard")
    return RedirectResponse(f"/apps/{app}?done=preview-down", status_code=303)


@router.get("/apps/{app}/envs/{env}/releases")
def releases(app: str, env: str, request: Request, db: Db, session: PageSession) -> Response:
    record = RunStore(db).app(app)
    history = db.releases(app, env, limit=200)
    # where a promotion goes, by the dockyard.yml of the commit env runs (its export is kept on disk,
    # so this page asks git nothing); nothing live, nothing to promote
    live = next((r for r in history if r.status == "live"), None)
    next_env = None
    if live is not None:
        try:
            next_env = _next_env(record, live.commit_sha, env) if live.commit_sha else None
        except DockyardError:  # a commit the repository no longer has: its default branch says
            next_env = actions.spec_of(RunStore(db), record)[0].next_env(env)
    tasks: dict[str, TaskRecord] = {}  # each release's last run of its release task
    for task in db.release_tasks(app, env, limit=800):
        tasks.setdefault(task.release_id, task)
    hooks: dict[str, list[TaskRecord]] = {}
    for hook in db.task_runs(app, env, "hook.", limit=800):
        hooks.setdefault(hook.release_id, []).insert(0, hook)
    return page(request, "releases.html", session, app=app, env=env, releases=history, next_env=next_env,
                tasks=tasks, hooks=hooks, done=DONE.get(request.query_params.get("done", "")),
                rollout=rollout_json(RolloutStore(db).latest(app, env)))


@router.post("/apps/{app}/envs/{env}/rollout/{action}")
async def rollout(app: str, env: str, action: str, request: Request, db: Db, session: PageSession) -> Response:
    """The rollout's buttons: what the API's POST .../rollout/{action} does, with the session's token."""
    await checked_form(request, session)
    if action not in ROLLOUT_ACTIONS:
        raise NotFound(f"no rollout action {action!r}", hint=", ".join(ROLLOUT_ACTIONS))
    actions.refuse_unless(db, session.token, "deploy", env, source(request), f"rollout {action}", f"{app}/{env}")
    await run_in_threadpool(ask_rollout, db, app, env, action, session.token.name, source(request))
    return RedirectResponse(f"/apps/{app}/envs/{env}/releases?done=rollout-{action}", status_code=303)


@router.get("/apps/{app}/envs/{env}/jobs")
def jobs(app: str, env: str, request: Request, db: Db, session: PageSession) -> Response:
    """The environment's scheduled jobs (the registered app's dockyard.yml) and their runs."""
    store = RunStore(db)
    spec = actions.spec_of(store, store.app(app))[0]
    spec.environment(env)
    enabled = any(name == app for name, _ in JobStore(db).apps())
    now = time.time()
    rows = [{"job": job, "next": next_at(job.schedule, now) if enabled else None,
             "last": next(iter(db.task_runs(app, env, kind_of(job.name), limit=1)), None)}
            for job in spec.jobs if job.runs_in(env)]
    return page(request, "jobs.html", session, app=app, env=env, jobs=rows, enabled=enabled,
                runs=db.task_runs(app, env, "job.", limit=100))


@lru_cache(maxsize=1024)
def _next_env(record: AppRecord, commit: str, env: str) -> str | None:
    """The environment after env in the dockyard.yml of a commit (which never changes: kept)."""
    return app_spec(record, commit).next_env(env)


@router.get("/apps/{app}/envs/{env}/diff")
def diff(app: str, env: str, new: int, request: Request, db: Db, session: PageSession,
         old: int | None = None) -> Response:
    return page(request, "diff.html", session, diff=diff_releases(db, app, env, new, old))


@router.post("/apps/{app}/envs/{env}/rollback")
async def rollback(app: str, env: str, request: Request, db: Db, session: PageSession) -> Response:
    await checked_form(request, session)
    await run_in_threadpool(actions.rollback, db, app, env, session.token, source(request))
    return RedirectResponse(f"/apps/{app}/envs/{env}/releases?done=rolled-back", status_code=303)


@router.post("/apps/{app}/envs/{env}/promote")
async def promote(app: str, env: str, request: Request, db: Db, session: PageSession) -> Response:
    await checked_form(request, session)
    _, _, target = await run_in_threadpool(actions.promote, db, app, env, session.token, source(request))
    return RedirectResponse(f"/apps/{app}/envs/{target}/releases?done=promoted", status_code=303)


@router.get("/audit")
def audit(request: Request, db: Db, session: PageSession, target: str | None = None) -> Response:
    actions.refuse_unless(db, session.token, "admin", None, source(request), "GET /audit", "/audit")
    log = AuditLog(db)
    return page(request, "audit.html", session, rows=log.rows(None, target or None, 500), target=target or "",
                problems=[f"row {p.seq}: {p.what}" for p in log.verify()])


def source(request: Request) -> str:
    return source_of(request).replace("api", "dashboard", 1)

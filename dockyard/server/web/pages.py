"""The dashboard's pages about apps: the list, an app's environments side by side, an environment's
releases with the config diff between two, rollback and promotion, and the audit log (admin).

Pages read what the JSON API reads (dockyard/server/overview.py, actions.py); a form's action is
the same call the API makes, so the scope a token lacks is refused there, whatever a page showed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dockyard.pipeline.store import RunStore
from dockyard.server import actions
from dockyard.server.deps import Db, source_of
from dockyard.server.overview import diff_releases, overview
from dockyard.server.web.login import PageSession, checked_form
from dockyard.server.web.render import page
from dockyard.state.audit import AuditLog

router = APIRouter(include_in_schema=False)

# What a redirect after a form may say: a fixed set, so no request puts words on a page.
DONE = {"rolled-back": "Rolled back.", "promoted": "Promoted.", "approved": "Approved: the run goes on.",
        "cancelled": "Cancelled."}


@router.get("/")
def apps(request: Request, db: Db, session: PageSession) -> Response:
    store = RunStore(db)
    rows = []
    for record in store.apps():
        last = store.runs(record.name, limit=1)
        rows.append({"name": record.name, "repo": record.repo, "last": last[0] if last else None})
    return page(request, "apps.html", session, apps=rows)


@router.get("/apps/{app}")
def app_page(app: str, request: Request, db: Db, session: PageSession) -> Response:
    store = RunStore(db)
    spec, commit = actions.spec_of(store, store.app(app))
    return page(request, "app.html", session, data=overview(db, spec, commit), done=DONE.get(
        request.query_params.get("done", "")), runs=store.runs(app, limit=5))


@router.get("/apps/{app}/envs/{env}/releases")
def releases(app: str, env: str, request: Request, db: Db, session: PageSession) -> Response:
    store = RunStore(db)
    spec = actions.spec_of(store, store.app(app))[0]
    spec.environment(env)  # an environment the app does not have is a 404
    history = db.releases(app, env, limit=200)
    return page(request, "releases.html", session, app=app, env=env, releases=history,
                next_env=spec.next_env(env), done=DONE.get(request.query_params.get("done", "")))


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

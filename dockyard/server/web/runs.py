"""The dashboard's pipeline pages: runs, one run's steps with their output live (the same
server-sent events as the API's, for the page's session), approve and cancel."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from dockyard.pipeline.store import RunStore
from dockyard.server import actions
from dockyard.server.deps import Db
from dockyard.server.events import shown
from dockyard.server.runs_api import stream_events
from dockyard.server.sessions import COOKIE
from dockyard.server.streams import Holder
from dockyard.server.web.login import PageSession, checked_form
from dockyard.server.web.pages import DONE, source
from dockyard.server.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/runs")
def runs(request: Request, db: Db, session: PageSession, app: str | None = None) -> Response:
    token = session.token
    actions.refuse_outside(db, token, app or None, source(request), f"GET {request.url.path}")
    scoped = None if app or not token.apps or "admin" in token.scopes else token.apps
    return page(request, "runs.html", session, runs=RunStore(db).runs(app or None, limit=100, apps=scoped),
                app=app or "")


@router.get("/runs/{run_id}")
def run(run_id: int, request: Request, db: Db, session: PageSession) -> Response:
    store = RunStore(db)
    current = store.run(run_id)
    steps = store.steps(run_id)
    waiting = next((s for s in steps if s.status == "waiting"), None)
    # the gate's button says what it does: the environment its approval deploys to
    promotes_to = next((s.env for s in steps if waiting and s.idx > waiting.idx and s.kind == "deploy"), None)
    return page(request, "run.html", session, run=current, steps=steps, waiting=waiting, promotes_to=promotes_to,
                done=DONE.get(request.query_params.get("done", "")))


@router.get("/runs/{run_id}/events")
def events(run_id: int, request: Request, db: Db, session: PageSession, after: str | None = None
           ) -> StreamingResponse:
    """The run page's stream, past the output the page was rendered with (?after=IDX:BYTES,...); it
    ends within seconds of a log-out or of its token's revocation."""
    return stream_events(db, run_id, Holder(session.token, request.cookies.get(COOKIE)), shown(after))


@router.post("/runs/{run_id}/approve")
async def approve(run_id: int, request: Request, db: Db, session: PageSession) -> Response:
    await checked_form(request, session)
    await run_in_threadpool(actions.approve, db, run_id, session.token, source(request))
    return RedirectResponse(f"/runs/{run_id}?done=approved", status_code=303)


@router.post("/runs/{run_id}/cancel")
async def cancel(run_id: int, request: Request, db: Db, session: PageSession) -> Response:
    await checked_form(request, session)
    await run_in_threadpool(actions.cancel, db, run_id, session.token, source(request))
    return RedirectResponse(f"/runs/{run_id}?done=cancelled", status_code=303)

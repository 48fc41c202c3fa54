"""Pull request previews over the API (issue 33), for any token that reaches the app; opening or
taking one down needs the `trigger` scope (what a signed pull request webhook does), audited:

- GET /apps/{app}/previews: every preview of the app, its state, commit, trust, URL.
- POST /apps/{app}/previews/{number}: build the pull request's head (`{"ref": ...}`, default
  refs/pull/N/head; `{"fork": true}`: as a fork's, without secrets) and create or update pr-N.
- DELETE /apps/{app}/previews/{number}: take pr-N down with everything it had.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from dockyard.pipeline import previews
from dockyard.pipeline.preview_store import PreviewStore
from dockyard.pipeline.store import RunStore
from dockyard.server.auth import Token
from dockyard.server.deps import Auth, Db, need, source_of
from dockyard.state.db import StateDB

router = APIRouter(tags=["previews"])
Trigger = Annotated[Token, Depends(need("trigger"))]
Number = Annotated[int, Path(ge=1, le=999_999_999, description="the pull request's number")]


class PreviewUp(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: str = Field(default="", max_length=200, pattern=r"^(refs/[A-Za-z0-9._/-]+)?$",
                     description="the ref holding the pull request's head (default refs/pull/N/head)")
    fork: bool = False


@router.get("/apps/{app}/previews")
def preview_list(app: str, db: Db, token: Auth) -> dict[str, Any]:
    """The app's previews, oldest pull request first."""
    RunStore(db).app(app)  # 404 for an app that is not registered
    return {"app": app, "previews": [r.as_json() for r in PreviewStore(db).rows(app)]}


@router.post("/apps/{app}/previews/{number}")
async def preview_up(app: str, number: Number, http: Request, token: Trigger,
                     body: Annotated[PreviewUp | None, Body()] = None) -> dict[str, Any]:
    """Create or update preview pr-NUMBER from the pull request's head: the run queued, or why none was."""
    wanted = body or PreviewUp()
    event = previews.PreviewEvent(number=number, move="update", head_ref=wanted.ref, fork=wanted.fork)
    return await run_in_threadpool(_with_db, previews.request, app, event, token.name, source_of(http))


@router.delete("/apps/{app}/previews/{number}")
async def preview_down(app: str, number: Number, http: Request, token: Trigger) -> dict[str, Any]:
    """Take preview pr-NUMBER down: the run queued, or why none was."""
    return await run_in_threadpool(_with_db, previews.close, app, number, token.name, source_of(http),
                                   "taken down through the API")


def _with_db(action: Any, *args: Any) -> dict[str, Any]:
    """A call on a connection of its own (the request's is not for another thread)."""
    db = StateDB()
    try:
        RunStore(db).app(args[0])
        return dict(action(db, *args))
    finally:
        db.close()

"""REST endpoints about pipeline runs: list, show, output, follow (server-sent events), start,
approve and cancel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from dockyard.errors import DockyardError, NotFound
from dockyard.pipeline.source import _git, branch_head, update_mirror
from dockyard.pipeline.store import RunStore, Step
from dockyard.pipeline.triggers import enqueue
from dockyard.server import actions
from dockyard.server.auth import Token
from dockyard.server.deps import Auth, Db, need, source_of
from dockyard.server.events import FOLLOWING, Seen, changes, sse
from dockyard.server.streams import Body, Holder, stream
from dockyard.state.audit import audited
from dockyard.state.db import StateDB

router = APIRouter(tags=["runs"])
KEEPALIVE = 15.0
EVENT_POLL = 0.25


class RunRequest(BaseModel):
    app: str = Field(description="a registered app")
    branch: str = Field(description="the branch of the commit; it chooses the path (pipeline.branches)")
    commit: str | None = Field(default=None, description="the commit (default: the branch's head)")


def run_dict(store: RunStore, run_id: int, output: bool = False) -> dict[str, Any]:
    return store.run_json(run_id, output)


@router.get("/runs")
def runs(db: Db, http: Request, token: Auth, app: str | None = None, limit: int = 30) -> list[dict[str, Any]]:
    """Runs, newest first (of one app with ?app=), of the apps the token reaches."""
    actions.refuse_outside(db, token, app, source_of(http), f"GET {http.url.path}")
    store = RunStore(db)
    return [run_dict(store, r.id) for r in store.runs(app, limit, apps=None if app or not token.apps
                                                                    or "admin" in token.scopes else token.apps)]


@router.get("/runs/{run_id}")
def run(run_id: int, db: Db, output: bool = False) -> dict[str, Any]:
    """A run and its steps (status, start, end, approval); ?output=true adds each step's output."""
    return run_dict(RunStore(db), run_id, output)


def _step(store: RunStore, run_id: int, idx: int) -> Step:
    steps = store.steps(run_id, output=False)
    if not 0 <= idx < len(steps):
        store.run(run_id)
        raise NotFound(f"run {run_id} has no step {idx} (it has {len(steps)})")
    return steps[idx]


@router.get("/runs/{run_id}/steps/{idx}/output")
def step_output(run_id: int, idx: int, db: Db) -> dict[str, Any]:
    """The output of one step as kept: its last 5 MiB, after a note of how much was cut before them
    (`printed`: the bytes it printed in all; the whole of it at .../log)."""
    store = RunStore(db)
    step = _step(store, run_id, idx)
    return {"run_id": run_id, "idx": idx, "status": step.status, "printed": step.printed,
            "output": store.output_since(run_id, idx, 0).text}


@router.get("/runs/{run_id}/steps/{idx}/log", response_class=StreamingResponse)
def step_log(run_id: int, idx: int, db: Db) -> Response:
    """Everything one step printed, as text/plain, while its full log is kept (14 days after the
    run ends); then what is kept of it."""
    store = RunStore(db)
    _step(store, run_id, idx)
    path = store.output.full_log(run_id, idx)
    if path is None:
        return PlainTextResponse(store.output_since(run_id, idx, 0).text)
    return StreamingResponse(_file_bytes(path, path.stat().st_size), media_type="text/plain; charset=utf-8")


def _file_bytes(path: Path, size: int) -> Iterator[bytes]:
    """The first `size` bytes of a file that may still grow (a running step's log)."""
    with path.open("rb") as file:
        while size > 0:
            data = file.read(min(size, 256 * 1024))
            if not data:
                return
            size -= len(data)
            yield data


async def _stream(run_id: int, seen: Seen) -> Body:
    """The run's events as they come: each look at the database in a thread, each wait on the loop."""
    db = StateDB()
    store, quiet_since = RunStore(db), time.monotonic()

    def look() -> tuple[str, list[tuple[str, dict[str, Any]]]]:
        current = store.run(run_id)
        return current.status, changes(seen, current, store.steps(run_id, output=False),
                                       lambda idx, offset: store.output_since(run_id, idx, offset))
    try:
        while True:
            status, events = await asyncio.to_thread(look)
            for name, data in events:
                yield sse(name, data)
            if status not in FOLLOWING:
                return
            if events:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > KEEPALIVE:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            yield None
            await asyncio.sleep(EVENT_POLL)
    finally:
        db.close()


@router.get("/runs/{run_id}/events", response_class=StreamingResponse)
def events(run_id: int, db: Db, token: Auth) -> StreamingResponse:
    """Server-sent events: `run` and `step` status changes, `output` lines as they are written, and a
    last `end` when the run ends or waits at a gate. At most 8 streams per token; one ends within
    seconds of its token's revocation or expiry."""
    return stream_events(db, run_id, Holder(token))


def stream_events(db: StateDB, run_id: int, holder: Holder, seen: Seen | None = None) -> StreamingResponse:
    """The run's events as a text/event-stream response (a 404 before it starts for no such run),
    past what `seen` says the reader has, in one of the holder's stream slots."""
    RunStore(db).run(run_id)
    return stream(holder, lambda: _stream(run_id, seen or Seen()))


@router.post("/runs", status_code=201)
def start(request: RunRequest, db: Db, http: Request,
          token: Annotated[Token, Depends(need("trigger"))]) -> JSONResponse:
    """Start a run of a commit (default: the branch's head) by hand (trigger scope). The commit must be
    on the branch named; the branch's path comes from the app's default branch."""
    actions.refuse_outside(db, token, request.app, source_of(http), "run start")
    with audited(db, token.name, source_of(http), "run start", f"{request.app}/{request.branch}",
                 detail=request.commit or ""):
        return _start(request, db, token)


def _start(request: RunRequest, db: StateDB, token: Token) -> JSONResponse:
    store = RunStore(db)
    record = store.app(request.app)
    commit = request.commit or branch_head(record.repo, request.branch)
    if commit is None:
        raise NotFound(f"{record.repo} has no branch {request.branch!r}")
    if request.commit:

        mirror = update_mirror(record.name, record.repo)
        try:
            commit = _git("--git-dir", str(mirror), "rev-parse", "--verify",
                          f"{commit}^{{commit}}").decode().strip()
        except DockyardError as exc:
            raise NotFound(f"{record.repo} has no commit {request.commit!r}") from exc
    run_id = enqueue(store, request.app, commit, request.branch, "api", started_by=token.name)
    if run_id is None:
        raise DockyardError(f"branch {request.branch} runs no pipeline (pipeline.branches in dockyard.yml)")
    return JSONResponse(run_dict(store, run_id), status_code=201)


@router.post("/runs/{run_id}/approve")
def approve(run_id: int, db: Db, http: Request, token: Auth) -> dict[str, Any]:
    """Approve the manual gate the run waits at, as the token's name (approve scope); the server's
    worker goes on. A token cannot approve a run it started (four eyes; settings.yml four_eyes)."""
    actions.approve(db, run_id, token, source_of(http))
    return run_dict(RunStore(db), run_id)


@router.post("/runs/{run_id}/cancel")
def cancel(run_id: int, db: Db, http: Request, token: Auth) -> dict[str, Any]:
    """Cancel a queued, running or waiting run (a running step finishes first): trigger or approve scope."""
    actions.cancel(db, run_id, token, source_of(http))
    return run_dict(RunStore(db), run_id)

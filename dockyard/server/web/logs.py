"""The dashboard's log page of an environment: a search of the host's log store (newest lines,
shown oldest first) and a live tail of what arrives after them, over server-sent events."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from dockyard.errors import DockyardError
from dockyard.logs.paths import default_state_dir
from dockyard.logs.query import Query, last_id, newer, parse_since, search
from dockyard.logs.store import LogStore
from dockyard.pipeline.store import RunStore
from dockyard.server.deps import Db
from dockyard.server.events import sse
from dockyard.server.sessions import COOKIE
from dockyard.server.streams import Body, Holder, stream
from dockyard.server.web.login import PageSession
from dockyard.server.web.render import page

router = APIRouter(include_in_schema=False)
KEEPALIVE = 15.0
TAIL_SECONDS = 3600.0  # a tail left open ends after an hour; the page can be reloaded


def store_path() -> Path:
    """The forwarder's store on this host ($DOCKYARD_LOG_STORE, as `dockyard logs` reads it)."""
    return Path(os.environ.get("DOCKYARD_LOG_STORE") or default_state_dir() / "store.db")


def _query(app: str, env: str, service: str | None, grep: str | None, since: str | None, limit: int = 200) -> Query:
    return Query(app=app, env=env, service=service or None, grep=grep or None,
                 since_ns=parse_since(since) if since else None, limit=limit)


@router.get("/apps/{app}/envs/{env}/logs")
def logs(app: str, env: str, request: Request, db: Db, session: PageSession, service: str = "", grep: str = "",
         since: str = "") -> Response:
    RunStore(db).app(app)
    q = _query(app, env, service, grep, since)
    try:
        store = LogStore(store_path(), readonly=True)
    except DockyardError as exc:
        return page(request, "logs.html", session, app=app, env=env, lines=[], after=0, error=exc.message,
                    hint=exc.hint, service=service, grep=grep, since=since)
    try:
        lines = list(reversed(search(store, q)))
        after = lines[-1].id if lines else last_id(store)
    finally:
        store.db.close()
    return page(request, "logs.html", session, app=app, env=env, lines=lines, after=after, error=None, hint=None,
                service=service, grep=grep, since=since)


@router.get("/apps/{app}/envs/{env}/logs/events")
def tail(app: str, env: str, request: Request, db: Db, session: PageSession, after: int, service: str = "",
         grep: str = "") -> StreamingResponse:
    """New lines as they arrive, in one of the session's stream slots; it ends within seconds of a
    log-out or of its token's revocation."""
    RunStore(db).app(app)
    query = _query(app, env, service, grep, None)
    return stream(Holder(session.token, request.cookies.get(COOKIE)),
                  lambda: _tail(LogStore(store_path(), readonly=True), query, after))


async def _tail(store: LogStore, q: Query, after: int) -> Body:
    """Each new line as an event; a comment when quiet, so a closed page ends the stream. Each read
    of the store runs in a thread, each wait on the event loop."""
    quiet_since = started = time.monotonic()
    try:
        while time.monotonic() - started < TAIL_SECONDS:
            lines = await asyncio.to_thread(newer, store, q, after, 500)
            for line in lines:
                after = line.id
                yield sse("line", {"id": line.id, "time": line.time, "container": line.container,
                                   "stream": line.stream, "message": line.message})
            if lines:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > KEEPALIVE:
                quiet_since = time.monotonic()
                yield ": keep-alive\n\n"
            yield None
            await asyncio.sleep(0.5)
    finally:
        store.db.close()

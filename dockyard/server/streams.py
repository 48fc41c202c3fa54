"""Long-lived responses (server-sent events) that cost no worker thread while they wait, are capped per
token and per session, and end within seconds of the rights they were opened with (issue 28).

A stream's body is an async generator: it waits on the event loop (`asyncio.sleep`), and only each
short read runs in a thread. Before a stream starts it takes a slot of its token (and of its session,
for the dashboard); the slot is given back when the stream ends, however it ends. Every RECHECK
seconds it asks the database whether its token (and session) still hold: a revoked or expired token,
or a session logged out, ends it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from fastapi.responses import StreamingResponse

from dockyard.errors import DockyardError
from dockyard.server.auth import Token, TokenStore, token_hash
from dockyard.server.store import SessionTable
from dockyard.state.db import StateDB

PER_TOKEN = 8  # streams open at once with one token (its sessions' included)
PER_SESSION = 4  # streams open at once in one dashboard session
RECHECK = 2.0  # seconds between two looks at whether the token (and session) still hold
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class TooManyStreams(DockyardError):
    """Answered 429: the token or session has its share of streams open."""


@dataclass(frozen=True)
class Holder:
    """Whose rights a stream runs on: a token, and the dashboard session it came through, if any."""

    token: Token
    session: str | None = None  # the session cookie's value

    def keys(self) -> list[str]:
        return [f"token:{self.token.id}"] + ([f"session:{token_hash(self.session)}"] if self.session else [])


class Slots:
    """The streams open now, per token and per session (this process serves them all)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: Counter[str] = Counter()

    def take(self, holder: Holder) -> None:
        with self.lock:
            token_key, *session_key = holder.keys()
            if self.open[token_key] >= PER_TOKEN:
                raise TooManyStreams(f"token {holder.token.name!r} has {PER_TOKEN} streams open already",
                                     hint="close a page or a follower first")
            if session_key and self.open[session_key[0]] >= PER_SESSION:
                raise TooManyStreams(f"this session has {PER_SESSION} streams open already",
                                     hint="close another tab of the dashboard first")
            for key in holder.keys():
                self.open[key] += 1

    def give_back(self, holder: Holder) -> None:
        with self.lock:
            for key in holder.keys():
                self.open[key] -= 1
                if self.open[key] <= 0:
                    del self.open[key]


SLOTS = Slots()


def still_holds(holder: Holder) -> bool:
    """Whether the token is still there and not expired, and the session (if any) not logged out."""
    db = StateDB()
    try:
        token = TokenStore(db).by_id(holder.token.id)
        if token is None or token.expired(time.time()):
            return False
        if holder.session is None:
            return True
        session = SessionTable(db).find(token_hash(holder.session))
        return session is not None and session[2] > time.time()
    finally:
        db.close()


Body = AsyncIterator[str | None]  # events to send; None: nothing yet (each poll says so)


def stream(holder: Holder, body: Callable[[], Body]) -> StreamingResponse:
    """The event stream of `body`, in one of the holder's slots (TooManyStreams before it starts)."""
    SLOTS.take(holder)
    try:
        events = body()
    except BaseException:  # it could not start (no log store, say): its slot is free again
        SLOTS.give_back(holder)
        raise
    return StreamingResponse(_guarded(holder, events), media_type="text/event-stream", headers=HEADERS)


async def _guarded(holder: Holder, events: Body) -> AsyncIterator[str]:
    checked = time.monotonic()
    try:
        async for chunk in events:
            if chunk:
                yield chunk
            if time.monotonic() - checked >= RECHECK:
                checked = time.monotonic()
                if not await asyncio.to_thread(still_holds, holder):
                    yield ": the token or session that opened this stream no longer holds\n\n"
                    return
    finally:
        SLOTS.give_back(holder)
        await events.aclose()  # type: ignore[attr-defined]

"""The ASGI app uvicorn serves from its first moment (issue 30: the server answers within 1 s).

Building the full application imports FastAPI, the routers and through them the deploy and
pipeline packages: about a second on a quiet 2-core machine, several on a busy one. So the
server listens first, with this front door, and builds the application in a thread:

- GET /health answers at once, and says what is still starting (`api`, `loops`);
- any other request waits until the application is built, then goes to it (it is not refused);
- when the build failed, every other request gets 503 with the reason (the server then stops).

Standard library only: this module is imported before the server listens.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STARTING, READY = "starting", "ready"


class Front:
    def __init__(self) -> None:
        self.app: ASGIApp | None = None
        self.error: str | None = None
        self.loops = STARTING
        self._built = threading.Event()

    def ready(self, app: ASGIApp) -> None:
        """The full application is built: requests go to it from now on."""
        self.app = app
        self._built.set()

    def failed(self, message: str) -> None:
        """The application could not be built: waiting requests and new ones get 503 with `message`."""
        self.error = message
        self._built.set()

    def health(self) -> dict[str, str]:
        return {"status": "ok", "api": READY if self.app is not None else STARTING, "loops": self.loops}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/health" and scope["method"] in ("GET", "HEAD"):
            await answer(send, 200, self.health(), head=scope["method"] == "HEAD")
            return
        if not self._built.is_set():
            await asyncio.to_thread(self._built.wait)  # a thread of the loop's pool, not of the app's
        if self.app is None:
            if scope["type"] == "http":
                await answer(send, 503, {"error": f"the server could not start: {self.error}"})
            return
        await self.app(scope, receive, send)


async def answer(send: Send, status: int, body: dict[str, str], head: bool = False) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": b"" if head else data})

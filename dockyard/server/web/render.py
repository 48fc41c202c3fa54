"""Rendering the dashboard's pages: Jinja2 templates shipped in the package (autoescaped), a few
filters, and the headers every page gets (no caching, no framing, scripts only from this server)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from dockyard.server.sessions import Session

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))

HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                               "form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin: a failed form's page links back to where it was posted from; no other site learns a path
    "Referrer-Policy": "same-origin",
}


def when(stamp: float | str | None) -> str:
    """A moment for a page: seconds since the epoch, or RFC 3339 as the JSON says it."""
    if isinstance(stamp, str):
        return stamp.replace("T", " ").removesuffix("Z") or "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(stamp)) if stamp else "-"


def short(commit: str | None) -> str:
    return commit[:12] if commit else "-"


def took(start: float | None, end: float | None) -> str:
    if not start:
        return "-"
    seconds = (end or time.time()) - start
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


templates.env.filters.update(when=when, short=short, took=took)


def page(request: Request, name: str, session: Session | None = None, status: int = 200,
         **context: Any) -> HTMLResponse:
    """A page: `session` gives the template the token (its name and what it may do) and the CSRF
    secret its forms carry."""
    response = templates.TemplateResponse(request, name, {"session": session, "token": session.token if session
                                                          else None, **context}, status_code=status)
    response.headers.update(HEADERS)
    return response

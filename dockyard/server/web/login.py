"""Log-in and log-out of the dashboard, the session every page needs, and the CSRF check of forms.

A page without a valid session is a redirect to /login. Every form carries the session's CSRF
secret in a hidden field, checked before anything is done; the log-in form, which has no session
yet, carries a nonce that must match the short-lived cookie the log-in page set (so another site
cannot log a browser in with a token of its own choosing). Cookies are HttpOnly and
SameSite=Strict, and Secure when the server serves HTTPS.

Failed log-ins are counted per source (dockyard/server/throttle.py): past the limit, 429 with
Retry-After, and one audit row per source and window says how many there were.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from dockyard import settings
from dockyard.errors import DockyardError, Forbidden, UsageError
from dockyard.server.actions import refuse_outside
from dockyard.server.auth import TokenStore
from dockyard.server.deps import Db, app_of, source_of
from dockyard.server.sessions import COOKIE, Session, SessionStore
from dockyard.server.throttle import LoginThrottle, Summary
from dockyard.server.web.render import page
from dockyard.state.audit import AuditLog
from dockyard.state.db import StateDB
from dockyard.vocabulary import rfc3339

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "dockyard_login"
LOGIN_MINUTES = 15
MAX_FIELDS = 50  # no form of the dashboard has more than a handful


class LoginNeeded(DockyardError):
    """No session, or one that ended (answered with a redirect to /login)."""


def page_session(request: Request, db: Db) -> Session:
    """The signed-in session, whose token must reach the app the page, form or stream is about."""
    session = SessionStore(db).find(request.cookies.get(COOKIE))
    if session is None:
        raise LoginNeeded("log in to see this page")
    refuse_outside(db, session.token, app_of(request, db), source_of(request), f"{request.method} {request.url.path}")
    return session


PageSession = Annotated[Session, Depends(page_session)]


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a urlencoded form (the body is capped by the server's BodyLimit)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        return dict(parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FIELDS))
    except ValueError as exc:  # more fields than max_num_fields: a 400, not a 500
        raise UsageError(f"the form has more than {MAX_FIELDS} fields; nothing was done",
                         hint="send the form from its page") from exc


async def checked_form(request: Request, session: Session) -> dict[str, str]:
    """The form's fields, once its CSRF field matches the session's secret."""
    fields = await form_fields(request)
    if not session.csrf_ok(fields.get("csrf")):
        raise Forbidden("the form did not carry this session's CSRF token; nothing was done",
                        hint="reload the page and submit the form again")
    return fields


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/login")
def login_form(request: Request) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = page(request, "login.html", nonce=nonce)
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=LOGIN_MINUTES * 60, httponly=True, samesite="strict",
                        secure=_secure(request), path="/login")
    return response


def throttle_of(request: Request) -> LoginThrottle:
    """The server's one count of failed log-ins (made with the app: dockyard/server/app.py)."""
    throttle: LoginThrottle = request.app.state.login_throttle
    return throttle


def audit_failures(db: StateDB, summaries: list[Summary]) -> None:
    """One audit row per source and window of failed log-ins."""
    for summary in summaries:
        AuditLog(db).record("-", summary.source, "login", "dashboard", summary.outcome(),
                            f"between {rfc3339(summary.started)} and {rfc3339(summary.ended)}")


@router.post("/login")
async def login(request: Request, db: Db) -> Response:
    throttle, source, now = throttle_of(request), source_of(request), time.time()
    audit_failures(db, throttle.ended(now))
    wait = throttle.retry_after(source, now)
    if wait is not None:
        refused = _refused(request, f"too many failed log-ins from your address; try again in {wait} s", 429)
        refused.headers["Retry-After"] = str(wait)
        return refused
    fields = await form_fields(request)
    nonce = request.cookies.get(LOGIN_COOKIE)
    if not nonce or not secrets.compare_digest(nonce, fields.get("nonce", "")):
        return _refused(request, "the log-in form is stale or was not sent from this page; try again", 403)
    token = TokenStore(db).verify(fields.get("token", "").strip(), now=now)
    if token is None:
        throttle.failed(source, now)  # written to the audit log when the window ends
        return _refused(request, "that token is unknown, expired or revoked", 401)
    session_id, session = SessionStore(db).start(token, keep=settings.load().server.sessions_per_token)
    AuditLog(db).record(token.name, source, "login", "dashboard", "ok")
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, session_id, max_age=int(session.expires_at - time.time()), httponly=True,
                        samesite="strict", secure=_secure(request), path="/")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


def _refused(request: Request, message: str, status: int) -> Response:
    nonce = secrets.token_urlsafe(24)
    response = page(request, "login.html", nonce=nonce, error=message, status=status)
    response.set_cookie(LOGIN_COOKIE, nonce, max_age=LOGIN_MINUTES * 60, httponly=True, samesite="strict",
                        secure=_secure(request), path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, db: Db, session: PageSession) -> Response:
    await checked_form(request, session)
    SessionStore(db).end(request.cookies.get(COOKIE))
    AuditLog(db).record(session.token.name, source_of(request), "logout", "dashboard", "ok")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response

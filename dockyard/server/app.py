"""The FastAPI application: routers, bearer-token auth with scopes, the body cap and the JSON
error format.

Every error is `{"error": message}` (with `hint` when Dockyard has one): NotFound -> 404, a bad
request (usage, spec, config) -> 400, any other DockyardError (a conflict with the run's state)
-> 409, a store or engine that cannot be reached -> 503, a missing, wrong or expired token -> 401,
a token without the scope (or an approval of one's own run) -> 403, a body over the cap -> 413.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from dockyard import settings
from dockyard.errors import (
    ConfigError,
    DockyardError,
    EngineUnavailable,
    Forbidden,
    NotFound,
    SpecError,
    StoreUnavailable,
    UsageError,
)
from dockyard.pipeline.places import Places, server_places
from dockyard.pipeline.store import RunStore
from dockyard.server import api, hooks, web
from dockyard.server.deps import Unauthorized, require_token
from dockyard.server.limits import BodyLimit
from dockyard.server.streams import TooManyStreams
from dockyard.server.throttle import LoginThrottle
from dockyard.server.web.login import LoginNeeded
from dockyard.server.web.render import STATIC, page
from dockyard.server.webhooks import BadPayload, BadSignature
from dockyard.state.db import StateDB

log = logging.getLogger(__name__)


def status_of(exc: DockyardError) -> int:
    if isinstance(exc, Unauthorized):
        return 401
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, UsageError | SpecError | ConfigError):
        return 400
    if isinstance(exc, StoreUnavailable | EngineUnavailable):
        return 503
    if isinstance(exc, BadSignature):
        return 401
    if isinstance(exc, BadPayload):
        return 400
    if isinstance(exc, TooManyStreams):
        return 429
    return 409


def places() -> Places:
    """This server's paths, to take out of what a response says (the apps' repositories on this host too)."""
    try:
        db = StateDB(lock_wait=1.0)
    except DockyardError:
        return server_places()
    try:
        return server_places((a.name, a.repo) for a in RunStore(db).apps())
    except DockyardError:
        return server_places()
    finally:
        db.close()


def error_body(exc: DockyardError) -> dict[str, str]:
    """The error as the API says it: its message and hint, without a path of the server."""
    shown = places()
    body = {"error": shown.hide(exc.message)}
    if exc.hint:
        body["hint"] = shown.hide(exc.hint)
    return body


def _for_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/hooks/"))


async def _dockyard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DockyardError)
    if not _for_api(request):
        return _page_error(request, exc)
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    if status == 401:
        log.warning("%s %s refused: %s", request.method, request.url.path, exc.message)
    return JSONResponse(error_body(exc), status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = places().hide(str(exc.detail))
    if not _for_api(request) and not request.url.path.startswith(("/static/", "/docs", "/openapi")):
        return page(request, "error.html", status=exc.status_code, message=detail, hint=None)
    return JSONResponse({"error": detail}, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()]
    if not _for_api(request):
        return page(request, "error.html", status=400, message="invalid request: " + "; ".join(problems), hint=None)
    return JSONResponse({"error": "invalid request: " + "; ".join(problems)}, status_code=400)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)


def _page_error(request: Request, exc: DockyardError) -> Response:
    """A dashboard page's error: to /login without a session, else a page saying what went wrong."""
    if isinstance(exc, LoginNeeded):
        return RedirectResponse("/login", status_code=303)
    status = status_of(exc)
    if status == 401:  # a bearer-token error cannot happen on a page; a session that ended can
        return RedirectResponse("/login", status_code=303)
    failed, back = way_back(request)
    shown = error_body(exc)
    return page(request, "error.html", status=status, message=shown["error"], hint=shown.get("hint"), failed=failed,
                back=back)


ACTIONS = {"rollback": "The rollback", "promote": "The promotion", "approve": "The approval",
           "cancel": "Cancelling the run", "revoke": "Revoking the token", "tokens": "Creating the token"}


def way_back(request: Request) -> tuple[str | None, str | None]:
    """What failed, in the error page's heading, and the page the form was on (a path of this
    server only: the Referer's path, never another origin)."""
    what = ACTIONS.get(request.url.path.rstrip("/").rsplit("/", 1)[-1]) if request.method == "POST" else None
    referer = urlsplit(request.headers.get("referer", ""))
    same = referer.netloc in ("", request.url.netloc) and referer.path.startswith("/") \
        and not referer.path.startswith("//")
    back = referer.path + (f"?{referer.query}" if referer.query else "") if same and referer.path else None
    return (f"{what} did not happen" if what else None), back


def create_app() -> FastAPI:
    app = FastAPI(title="Dockyard", version="0.1.0",
                  description="Apps, environments, releases, configuration and pipeline runs. "
                  "Every endpoint but /health and /hooks/* needs `Authorization: Bearer TOKEN`.")
    app.add_exception_handler(DockyardError, _dockyard_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)
    site = settings.load()
    app.add_middleware(BodyLimit, max_bytes=site.max_body_kib * 1024)
    app.state.login_throttle = LoginThrottle(site.server.login_failures, site.server.login_window_s)

    @app.get("/health", tags=["server"])
    def health() -> dict[str, str]:
        """Liveness, without a token."""
        return {"status": "ok"}

    app.include_router(api.router, prefix="/api", dependencies=[Depends(require_token)])
    app.include_router(hooks.router, prefix="/hooks")
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app

"""The FastAPI application: routers, bearer-token auth with scopes, the body cap and the JSON
error format.

Every error is `{"error": message}` (with `hint` when Dockyard has one): NotFound -> 404, a bad
request (usage, spec, config) -> 400, any other DockyardError (a conflict with the run's state)
-> 409, a store or engine that cannot be reached -> 503, a missing, wrong or expired token -> 401,
a token without the scope (or an approval of one's own run) -> 403, a body over the cap -> 413.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
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
from dockyard.server.auth import Token, TokenStore
from dockyard.server.limits import BodyLimit
from dockyard.state.audit import AuditLog
from dockyard.state.db import StateDB

log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False, description="A token from `dockyard token create`.")


class Unauthorized(DockyardError):
    """No token, or not a valid one (answer 401)."""


def get_db() -> Iterator[StateDB]:
    db = StateDB()
    try:
        yield db
    finally:
        db.close()


Db = Annotated[StateDB, Depends(get_db)]


def source_of(request: Request) -> str:
    return f"api {request.client.host}" if request.client else "api"


def require_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                  db: Db) -> Token:
    if credentials is None:
        raise Unauthorized("missing bearer token", hint="send Authorization: Bearer TOKEN "
                           "(create one with: dockyard token create)")
    store = TokenStore(db)
    token = store.verify(credentials.credentials, now=time.time())
    if token is None:
        raise Unauthorized("invalid, expired or revoked token", hint="dockyard token ls")
    return token


Auth = Annotated[Token, Depends(require_token)]


def need(scope: str) -> Callable[[Request, Token, StateDB], Token]:
    """A dependency: the request's token, when it has `scope` (deploy: for the path's {env});
    a refusal is answered 403 and written to the audit log."""
    def check(request: Request, token: Auth, db: Db) -> Token:
        env = request.path_params.get("env")
        if not token.allows(scope, env):
            wanted = f"deploy:{env}" if scope == "deploy" and env else scope
            AuditLog(db).record(token.name, source_of(request), f"{request.method} {request.url.path}",
                                target=request.url.path, outcome=f"refused: no {wanted} scope")
            raise Forbidden(f"token {token.name!r} has no {wanted} scope (it has: {', '.join(token.scopes)})",
                            hint=f"dockyard token create --name NAME --scope {wanted.replace(':', ' --env ')}")
        return token
    return check


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
    from dockyard.server.webhooks import BadPayload, BadSignature

    if isinstance(exc, BadSignature):
        return 401
    if isinstance(exc, BadPayload):
        return 400
    return 409


def error_body(exc: DockyardError) -> dict[str, str]:
    body = {"error": exc.message}
    if exc.hint:
        body["hint"] = exc.hint
    return body


async def _dockyard_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DockyardError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    if status == 401:
        log.warning("%s %s refused: %s", request.method, request.url.path, exc.message)
    return JSONResponse(error_body(exc), status_code=status, headers=headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()]
    return JSONResponse({"error": "invalid request: " + "; ".join(problems)}, status_code=400)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)


def create_app() -> FastAPI:
    from dockyard.server import api, hooks

    app = FastAPI(title="Dockyard", version="0.1.0",
                  description="Apps, environments, releases, configuration and pipeline runs. "
                  "Every endpoint but /health and /hooks/* needs `Authorization: Bearer TOKEN`.")
    app.add_exception_handler(DockyardError, _dockyard_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _internal_error)
    app.add_middleware(BodyLimit, max_bytes=settings.load().max_body_kib * 1024)

    @app.get("/health", tags=["server"])
    def health() -> dict[str, str]:
        """Liveness, without a token."""
        return {"status": "ok"}

    app.include_router(api.router, prefix="/api", dependencies=[Depends(require_token)])
    app.include_router(hooks.router, prefix="/hooks")
    return app

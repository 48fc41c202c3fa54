"""The request dependencies of every endpoint: the state database, the bearer token, its scope,
and where the request came from. The routers import these, never the application itself."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dockyard.errors import DockyardError, NotFound
from dockyard.pipeline.store import RunStore
from dockyard.server.actions import refuse_outside, refuse_unless
from dockyard.server.auth import Token, TokenStore
from dockyard.state.db import StateDB

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


def app_of(request: Request, db: StateDB) -> str | None:
    """The app a request is about: its path's {app}, or the app of its path's {run_id} (None: no such
    run, which the route answers with 404, or a request about no app)."""
    app = request.path_params.get("app")
    if app is None and "run_id" in request.path_params:
        try:
            return RunStore(db).run(int(request.path_params["run_id"])).app
        except (NotFound, ValueError):
            return None
    return str(app) if app is not None else None


def require_token(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                  db: Db) -> Token:
    """The request's valid token, which must reach the app the request is about: one place for every
    endpoint and stream (apps are walls, issue 28)."""
    if credentials is None:
        raise Unauthorized("missing bearer token", hint="send Authorization: Bearer TOKEN "
                           "(create one with: dockyard token create)")
    store = TokenStore(db)
    token = store.verify(credentials.credentials, now=time.time())
    if token is None:
        raise Unauthorized("invalid, expired or revoked token", hint="dockyard token ls")
    refuse_outside(db, token, app_of(request, db), source_of(request), f"{request.method} {request.url.path}")
    return token


Auth = Annotated[Token, Depends(require_token)]


def need(scope: str) -> Callable[[Request, Token, StateDB], Token]:
    """A dependency: the request's token, when it has `scope` (deploy: for the path's {env});
    a refusal is answered 403 and written to the audit log."""
    def check(request: Request, token: Auth, db: Db) -> Token:
        refuse_unless(db, token, scope, request.path_params.get("env"), source_of(request),
                      f"{request.method} {request.url.path}", request.url.path)
        return token
    return check

"""The dashboard's tokens page (admin scope): the tokens with their scopes, expiry and last use;
create one (shown once, on the answer to the form, never again) and revoke one. Audited."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from dockyard.server import actions
from dockyard.server.auth import TokenStore, parse_expiry, parse_scopes
from dockyard.server.deps import Db
from dockyard.server.web.login import PageSession, checked_form
from dockyard.server.web.pages import source
from dockyard.server.web.render import page
from dockyard.state.audit import audited

router = APIRouter(include_in_schema=False)


@router.get("/tokens")
def tokens(request: Request, db: Db, session: PageSession) -> Response:
    actions.refuse_unless(db, session.token, "admin", None, source(request), "GET /tokens", "/tokens")
    return page(request, "tokens.html", session, tokens=TokenStore(db).all(), created=None, now=time.time())


@router.post("/tokens")
async def create(request: Request, db: Db, session: PageSession) -> Response:
    fields = await checked_form(request, session)
    actions.refuse_unless(db, session.token, "admin", None, source(request), "token create",
                          fields.get("name", ""))
    name = fields.get("name", "").strip()
    with audited(db, session.token.name, source(request), "token create", name, detail=fields.get("scopes", "")):
        scopes = parse_scopes(fields.get("scopes", "").split(), fields.get("envs", "").split())
        record, secret = TokenStore(db).create(name, scopes, parse_expiry(fields.get("expires") or None, time.time()),
                                               apps=fields.get("apps", "").split())
    return page(request, "tokens.html", session, tokens=TokenStore(db).all(), created=(record, secret),
                now=time.time())


@router.post("/tokens/{token_id}/revoke")
async def revoke(token_id: int, request: Request, db: Db, session: PageSession) -> Response:
    await checked_form(request, session)
    actions.refuse_unless(db, session.token, "admin", None, source(request), "token revoke", str(token_id))
    with audited(db, session.token.name, source(request), "token revoke", str(token_id)):
        TokenStore(db).revoke(str(token_id))
    return RedirectResponse("/tokens", status_code=303)

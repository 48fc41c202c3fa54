"""Webhook endpoints: a signed push from GitHub, GitLab or Gitea queues a run for each matching app.

No bearer token here: the signature is the proof. Each app may have a secret per provider
(`webhook_secrets: {APP: {github: SECRET}}` in settings.yml), so one leaked secret starts one app's
runs only; an app without one uses the site's secret (DOCKYARD_WEBHOOK_SECRET, else `webhook_secret`).
Without any secret every webhook gets 401. Each delivery id (X-GitHub-Delivery, X-Gitea-Delivery,
X-Gitlab-Event-UUID; else the body's hash) is accepted once: a replayed delivery queues nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from dockyard import settings
from dockyard.errors import DockyardError, NotFound
from dockyard.pipeline.store import RunStore
from dockyard.pipeline.triggers import enqueue
from dockyard.server.webhooks import (
    BadPayload,
    BadSignature,
    Push,
    event_name,
    is_push,
    match_apps,
    parse_push,
    verify,
)
from dockyard.state.audit import AuditLog
from dockyard.state.db import StateDB

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)
DELIVERY_HEADERS = ("X-GitHub-Delivery", "X-Gitea-Delivery", "X-Gitlab-Event-UUID")


def webhook_secret() -> str:
    return os.environ.get("DOCKYARD_WEBHOOK_SECRET") or settings.load().webhook_secret or ""


def app_secret(app: str, provider: str) -> str:
    return settings.load().webhook_secrets.get(app, {}).get(provider) or webhook_secret()


def delivery_id(headers: Mapping[str, str], body: bytes) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in DELIVERY_HEADERS:
        if value := lowered.get(name.lower(), "").strip():
            return value[:200]
    return "sha256:" + hashlib.sha256(body).hexdigest()


def signed_apps(provider: str, headers: Mapping[str, str], body: bytes, apps: list[str]) -> list[str]:
    """The matched apps whose secret signed this request; BadSignature when none did."""
    accepted: list[str] = []
    last: BadSignature | None = None
    for app in apps:
        try:
            verify(provider, app_secret(app, provider), headers, body)
            accepted.append(app)
        except BadSignature as exc:
            last = exc
    if not accepted:
        raise last or BadSignature(f"wrong {provider} webhook signature")
    return accepted


def handle(provider: str, headers: Mapping[str, str], body: bytes, source: str = "webhook") -> JSONResponse:
    """Check, parse, match and queue; raises the errors the app turns into 401/400/404."""
    event = event_name(provider, headers)
    try:
        push: Push | None = parse_push(provider, body) if is_push(provider, event) else None
    except BadPayload:
        push = None
    db = StateDB()
    try:
        store = RunStore(db)
        apps = match_apps(push, [(a.name, a.repo) for a in store.apps()]) if push else []
        if not apps:
            verify(provider, webhook_secret(), headers, body)  # unsigned starts nothing, and learns nothing
            if not is_push(provider, event):
                return JSONResponse({"ignored": f"{provider} event {event or '(none)'!r} is not a push"},
                                    status_code=202)
            push = parse_push(provider, body)  # the payload's own error, now that the sender is known
            raise NotFound(f"no registered app has the repository {', '.join(push.urls or push.names)}",
                           hint="register it: dockyard app add NAME --repo URL")
        assert push is not None
        apps = signed_apps(provider, headers, body, apps)
        if not push.branch:
            return JSONResponse({"ignored": "not a branch (a tag?)"}, status_code=202)
        if push.deleted:
            return JSONResponse({"ignored": f"branch {push.branch} was deleted"}, status_code=202)
        delivery = delivery_id(headers, body)
        try:
            db.conn.execute("INSERT INTO deliveries (provider, delivery, received_at) VALUES (?,?,?)",
                            (provider, delivery, time.time()))
        except sqlite3.IntegrityError:
            log.warning("%s delivery %s replayed; ignored", provider, delivery)
            return JSONResponse({"ignored": f"delivery {delivery} was received before (a replay)"}, status_code=409)
        try:
            queued = _queue(store, db, provider, push, apps, source)
        except BaseException:
            db.conn.execute("DELETE FROM deliveries WHERE provider=? AND delivery=?", (provider, delivery))
            raise
        return JSONResponse({"runs": queued}, status_code=202)
    finally:
        db.close()


def _queue(store: RunStore, db: StateDB, provider: str, push: Push, apps: list[str], source: str
           ) -> list[dict[str, Any]]:
    queued: list[dict[str, Any]] = []
    audit = AuditLog(db)
    for app in apps:
        try:
            run_id = enqueue(store, app, push.commit, push.branch, provider)
        except DockyardError as exc:
            audit.record(f"{provider} webhook", source, "run start", f"{app}/{push.branch}", f"failed: {exc.message}",
                         push.commit)
            raise
        audit.record(f"{provider} webhook", source, "run start", f"{app}/{push.branch}",
                     f"run {run_id} queued" if run_id else "no pipeline for this branch", push.commit)
        queued.append({"app": app, "run": run_id, "commit": push.commit, "branch": push.branch})
        log.info("%s push: %s %s (%s): %s", provider, app, push.commit[:7], push.branch,
                 f"run {run_id} queued" if run_id else "the branch runs no pipeline")
    return queued


async def _receive(provider: str, request: Request) -> JSONResponse:
    body = await request.body()  # capped by the BodyLimit middleware before it is read
    source = f"webhook {request.client.host}" if request.client else "webhook"
    return await run_in_threadpool(handle, provider, request.headers, body, source)


@router.post("/github", status_code=202)
async def github(request: Request) -> JSONResponse:
    """GitHub push (X-GitHub-Event: push), signed: X-Hub-Signature-256: sha256=HMAC-SHA256(body)."""
    return await _receive("github", request)


@router.post("/gitlab", status_code=202)
async def gitlab(request: Request) -> JSONResponse:
    """GitLab push (X-Gitlab-Event: Push Hook), with X-Gitlab-Token: the secret."""
    return await _receive("gitlab", request)


@router.post("/gitea", status_code=202)
async def gitea(request: Request) -> JSONResponse:
    """Gitea push (X-Gitea-Event: push), signed: X-Gitea-Signature: HMAC-SHA256(body) in hex."""
    return await _receive("gitea", request)

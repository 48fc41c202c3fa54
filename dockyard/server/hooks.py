"""Webhook endpoints: a signed push from GitHub, GitLab or Gitea queues a run for each matching app.

No bearer token here: the signature made with the webhook secret (DOCKYARD_WEBHOOK_SECRET, else
`webhook_secret` in settings.yml) is the proof. Without a configured secret every webhook gets 401.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from dockyard import settings
from dockyard.errors import NotFound
from dockyard.pipeline.store import RunStore
from dockyard.pipeline.triggers import enqueue
from dockyard.server.webhooks import event_name, is_push, match_apps, parse_push, verify
from dockyard.state.db import StateDB

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)


def webhook_secret() -> str:
    return os.environ.get("DOCKYARD_WEBHOOK_SECRET") or settings.load().webhook_secret or ""


def handle(provider: str, headers: Mapping[str, str], body: bytes) -> JSONResponse:
    """Check, parse, match and queue; raises the errors the app turns into 401/400/404."""
    verify(provider, webhook_secret(), headers, body)  # before anything else: unsigned starts nothing
    event = event_name(provider, headers)
    if not is_push(provider, event):
        return JSONResponse({"ignored": f"{provider} event {event or '(none)'!r} is not a push"}, status_code=202)
    push = parse_push(provider, body)
    if not push.branch:
        return JSONResponse({"ignored": "not a branch (a tag?)"}, status_code=202)
    if push.deleted:
        return JSONResponse({"ignored": f"branch {push.branch} was deleted"}, status_code=202)
    db = StateDB()
    try:
        store = RunStore(db)
        apps = match_apps(push, [(a.name, a.repo) for a in store.apps()])
        if not apps:
            raise NotFound(f"no registered app has the repository {', '.join(push.urls or push.names)}",
                           hint="register it: dockyard app add NAME --repo URL")
        queued: list[dict[str, Any]] = []
        for app in apps:
            run_id = enqueue(store, app, push.commit, push.branch, provider)
            queued.append({"app": app, "run": run_id, "commit": push.commit, "branch": push.branch})
            log.info("%s push: %s %s (%s): %s", provider, app, push.commit[:7], push.branch,
                     f"run {run_id} queued" if run_id else "the branch runs no pipeline")
        return JSONResponse({"runs": queued}, status_code=202)
    finally:
        db.close()


async def _receive(provider: str, request: Request) -> JSONResponse:
    body = await request.body()
    return await run_in_threadpool(handle, provider, request.headers, body)


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

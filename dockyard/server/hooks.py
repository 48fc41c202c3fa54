"""Webhook endpoints: a signed push from GitHub, GitLab or Gitea queues a run for each matching app;
a signed pull request event builds, updates or takes down its preview (pipeline/previews.py).

No bearer token here: the signature is the proof. Each app may have a secret per provider
(`webhook_secrets: {APP: {github: SECRET}}` in settings.yml), so one leaked secret starts one app's
runs only; an app without one uses the site's secret (DOCKYARD_WEBHOOK_SECRET, else `webhook_secret`).
Without any secret every webhook gets 401.

The signature covers the body, not the delivery id (X-GitHub-Delivery, X-Gitea-Delivery,
X-Gitlab-Event-UUID; else the body's hash), so a captured push could be sent again under a new id.
A push therefore runs only when its commit is the branch's head after a fetch of the mirror, and
only once: a push of the same (app, branch, commit) as the branch's last accepted one queues
nothing, whatever its delivery id (dockyard/server/store.py). Both are answered 200 with the
reason, and written to the audit log.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from dockyard import settings
from dockyard.errors import DockyardError, NotFound
from dockyard.pipeline import previews
from dockyard.pipeline.previews import PreviewEvent
from dockyard.pipeline.store import RunStore
from dockyard.pipeline.triggers import enqueue, fetched_head, require_on_branch
from dockyard.server.pull_requests import PullRequest, is_pull_request, parse_pull_request
from dockyard.server.store import Deliveries
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


Event = TypeVar("Event", Push, PullRequest)


def _signed(db: StateDB, provider: str, headers: Mapping[str, str], body: bytes,
            parse: Callable[[str, bytes], Event]) -> tuple[Event, list[str]]:
    """The event and the registered apps of its repository whose secret signed it (BadSignature when
    none did). Where no app matches, the site's secret must have signed it before anything is said
    (an unsigned request learns nothing): then the payload's own error, or NotFound."""
    try:
        event: Event | None = parse(provider, body)
    except BadPayload:
        event = None
    apps = match_apps(event, [(a.name, a.repo) for a in RunStore(db).apps()]) if event else []
    if event is None or not apps:
        verify(provider, webhook_secret(), headers, body)
        event = parse(provider, body)
        raise NotFound(f"no registered app has the repository {', '.join(event.urls or event.names)}",
                       hint="register it: dockyard app add NAME --repo URL")
    return event, signed_apps(provider, headers, body, apps)


def _delivery(db: StateDB, provider: str, headers: Mapping[str, str], body: bytes) -> tuple[Deliveries, str, bool]:
    """The deliveries, this one's id, and whether it was received before (the provider's retry)."""
    deliveries = Deliveries(db)
    deliveries.prune(settings.load().server.webhook_retention_days)
    delivery = delivery_id(headers, body)
    return deliveries, delivery, not deliveries.receive(provider, delivery)


def handle(provider: str, headers: Mapping[str, str], body: bytes, source: str = "webhook") -> JSONResponse:
    """Check, parse, match and queue; raises the errors the app turns into 401/400/404."""
    event = event_name(provider, headers)
    if is_pull_request(provider, event):
        return handle_pull_request(provider, headers, body, source)
    if not is_push(provider, event):
        verify(provider, webhook_secret(), headers, body)  # unsigned learns nothing
        return JSONResponse({"ignored": f"{provider} event {event or '(none)'!r} is not a push or a pull "
                                        "request"}, status_code=202)
    db = StateDB()
    try:
        store = RunStore(db)
        push, apps = _signed(db, provider, headers, body, parse_push)
        if not push.branch:
            return JSONResponse({"ignored": "not a branch (a tag?)"}, status_code=202)
        if push.deleted:
            return JSONResponse({"ignored": f"branch {push.branch} was deleted"}, status_code=202)
        deliveries, delivery, again = _delivery(db, provider, headers, body)
        if again:
            log.warning("%s delivery %s received again; nothing queued", provider, delivery)
            return _answer([_skipped(db, provider, push, app, source, "duplicate",
                                     f"delivery {delivery} was received before; nothing queued") for app in apps])
        try:
            outcomes = [_accept(store, db, deliveries, provider, push, app, delivery, source) for app in apps]
        except BaseException:
            deliveries.forget(provider, delivery)  # the provider's retry may try again
            raise
        return _answer(outcomes)
    finally:
        db.close()


def handle_pull_request(provider: str, headers: Mapping[str, str], body: bytes, source: str) -> JSONResponse:
    """A signed pull request event: each matching app's preview built, updated or taken down."""
    db = StateDB()
    try:
        pull, apps = _signed(db, provider, headers, body, parse_pull_request)
        if not pull.move:
            return JSONResponse({"ignored": f"pull request action {pull.action or '(none)'!r} changes no code"},
                                status_code=202)
        deliveries, delivery, again = _delivery(db, provider, headers, body)
        if again:
            return _answer([{"app": app, "preview": f"pr-{pull.number}", "reason": "duplicate",
                             "message": f"delivery {delivery} was received before; nothing done"} for app in apps])
        event = PreviewEvent(number=pull.number, move=pull.move, commit=pull.commit, head_ref=pull.head_ref,
                             fork=pull.fork, provider=provider, repo=pull.repo, project_id=pull.project_id,
                             at=pull.at)
        outcomes = []
        try:
            for app in apps:
                try:
                    outcomes.append(previews.request(db, app, event, f"{provider} webhook", source))
                except NotFound as exc:  # this app has no previews, or the repository no such ref
                    outcomes.append({"app": app, "preview": f"pr-{pull.number}", "reason": "not-found",
                                     "message": exc.message})
        except BaseException:
            deliveries.forget(provider, delivery)  # the provider's retry may try again
            raise
        return _answer(outcomes)
    finally:
        db.close()


def _answer(outcomes: list[dict[str, Any]]) -> JSONResponse:
    """202 with the runs queued; 200 when every app skipped the push (a duplicate, not the head)."""
    runs = [o for o in outcomes if "reason" not in o]
    skipped = [o for o in outcomes if "reason" in o]
    return JSONResponse({"runs": runs, "skipped": skipped}, status_code=202 if runs else 200)


def _skipped(db: StateDB, provider: str, push: Push, app: str, source: str, reason: str, message: str
             ) -> dict[str, Any]:
    AuditLog(db).record(f"{provider} webhook", source, "run start", f"{app}/{push.branch}",
                        f"ignored ({reason}): {message}", push.commit)
    log.info("%s push: %s %s (%s) skipped: %s", provider, app, push.commit[:7], push.branch, message)
    return {"app": app, "commit": push.commit, "branch": push.branch, "reason": reason, "message": message}


def _accept(store: RunStore, db: StateDB, deliveries: Deliveries, provider: str, push: Push, app: str,
            delivery: str, source: str) -> dict[str, Any]:
    """Queue the push's run for one app when it names the branch's head and is not a duplicate."""
    def record(outcome: str) -> None:
        AuditLog(db).record(f"{provider} webhook", source, "run start", f"{app}/{push.branch}", outcome, push.commit)

    mirror, head = fetched_head(store, app, push.branch)
    if head != push.commit:
        try:  # a commit claimed for a branch it is not on is refused (403), not merely skipped
            require_on_branch(mirror, push.commit, push.branch, store.app(app).repo)
        except DockyardError as exc:
            record(f"failed: {exc.message}")
            raise
        now = f"its head is {head[:12]}" if head else "it does not exist"
        return _skipped(db, provider, push, app, source, "not-head",
                        f"commit {push.commit[:12]} is not the head of branch {push.branch!r} ({now}): an older "
                        "push, or one a newer push overtook; nothing queued")
    claim = deliveries.claim_push(app, push.branch, push.commit, provider, delivery)
    if claim is None:
        return _skipped(db, provider, push, app, source, "duplicate",
                        f"a duplicate: commit {push.commit[:12]} of {push.branch!r} was accepted before; "
                        "nothing queued")
    try:
        run_id = enqueue(store, app, push.commit, push.branch, provider, mirror=mirror)
    except BaseException as exc:
        deliveries.unclaim(claim)
        if isinstance(exc, DockyardError):
            record(f"failed: {exc.message}")
        raise
    record(f"run {run_id} queued" if run_id else "no pipeline for this branch")
    log.info("%s push: %s %s (%s): %s", provider, app, push.commit[:7], push.branch,
             f"run {run_id} queued" if run_id else "the branch runs no pipeline")
    return {"app": app, "run": run_id, "commit": push.commit, "branch": push.branch}


async def _receive(provider: str, request: Request) -> JSONResponse:
    body = await request.body()  # capped by the BodyLimit middleware before it is read
    source = f"webhook {request.client.host}" if request.client else "webhook"
    return await run_in_threadpool(handle, provider, request.headers, body, source)


@router.post("/github", status_code=202)
async def github(request: Request) -> JSONResponse:
    """GitHub push or pull_request, signed: X-Hub-Signature-256: sha256=HMAC-SHA256(body)."""
    return await _receive("github", request)


@router.post("/gitlab", status_code=202)
async def gitlab(request: Request) -> JSONResponse:
    """GitLab push (Push Hook) or merge request (Merge Request Hook), with X-Gitlab-Token: the secret."""
    return await _receive("gitlab", request)


@router.post("/gitea", status_code=202)
async def gitea(request: Request) -> JSONResponse:
    """Gitea push or pull_request, signed: X-Gitea-Signature: HMAC-SHA256(body) in hex."""
    return await _receive("gitea", request)

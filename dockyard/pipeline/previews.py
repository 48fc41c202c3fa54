"""Pull request previews (issue 33): a pull request opened, updated or closed becomes a pipeline run.

Opened or updated: its head commit is fetched from the ref the provider keeps for it, checked to be
that ref's head (a replayed older event builds nothing), and a run of `pr-N` is queued: build, push,
the image tests of the `from` environment, the preview's preparation (configuration copied once,
accessories seeded), the deploy, its endpoint tests. Closed: a run that takes `pr-N` down with
everything it had. Both runs are of the "branch" pull/N, so a close supersedes a build still queued.

What a preview copies, its name, life and cap are read from the default branch's dockyard.yml,
never the pull request's (spec/bounds.py refuses a pull request that changes `previews:`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from dockyard import settings
from dockyard.errors import DockyardError, Forbidden, NotFound
from dockyard.pipeline.commit_status import CommitStatus, report_later
from dockyard.pipeline.model import ACTIVE_RUN, StepDef, check_commit, plan_run
from dockyard.pipeline.places import server_places
from dockyard.pipeline.preview_store import PreviewRow, PreviewStore
from dockyard.pipeline.source import default_branch_head, default_branch_name, export_commit, fetch_ref
from dockyard.pipeline.store import RunStore
from dockyard.spec import AppSpec, load_spec
from dockyard.state.audit import AuditLog
from dockyard.state.db import StateDB
from dockyard.vocabulary import preview_name, rfc3339

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreviewEvent:
    """A pull request's event, from a webhook or by hand."""

    number: int
    move: str  # open | update | close
    commit: str = ""  # the head commit it names ("" by hand: the ref's head)
    head_ref: str = ""  # the ref of the repository that holds it (refs/pull/N/head)
    fork: bool = False
    provider: str = "hand"  # github | gitlab | gitea | hand
    repo: str = ""  # the base repository's full name, for the commit-status URL
    project_id: str = ""
    at: float | None = None  # when the pull request changed, as the signed payload says (None by hand)


def run_branch(number: int) -> str:
    """The branch a preview's runs are filed under: a newer one supersedes an older one still queued."""
    return f"pull/{number}"


def plan_preview(policy: AppSpec, number: int, commit_spec: AppSpec) -> list[StepDef]:
    """build, push, the `from` environment's image tests, prepare, deploy, its endpoint tests."""
    env = preview_name(number)
    steps = plan_run(policy, run_branch(number), commit_spec, envs=[env])
    assert steps is not None
    at = next(i for i, s in enumerate(steps) if s.kind == "deploy")
    return [*steps[:at], StepDef("preview", env, f"prepare preview {env}"), *steps[at:]]


def _status(row: PreviewRow, status: CommitStatus) -> None:
    if row.provider != "hand" and row.commit:
        report_later(row.provider, row.repo, row.commit, row.number, row.project_id, status)


def _audit(db: StateDB, by: str, source: str, app: str, number: int, outcome: str, commit: str) -> None:
    AuditLog(db).record(by, source, "preview", f"{app}/{preview_name(number)}", outcome, commit)


def request(db: StateDB, app: str, event: PreviewEvent, by: str, source: str) -> dict[str, Any]:
    """Carry out a pull request's event for `app`: the run queued, or why nothing was (a dict for the
    webhook's answer, the CLI and the API). Errors: NotFound (no previews), Forbidden (a bad commit).
    Every outcome is an audit row, a refusal's too."""
    try:
        return _request(db, app, event, by, source)
    except DockyardError as exc:
        _audit(db, by, source, app, event.number, f"failed: {exc.message.splitlines()[0]}", event.commit)
        raise


def _request(db: StateDB, app: str, event: PreviewEvent, by: str, source: str) -> dict[str, Any]:
    store = RunStore(db)
    record = store.app(app)
    env = preview_name(event.number)
    head_ref = event.head_ref or f"refs/pull/{event.number}/head"
    mirror, head = fetch_ref(app, record.repo, head_ref, f"refs/dockyard/pull/{event.number}")
    outcome: dict[str, Any] = {"app": app, "preview": env, "commit_sha": event.commit or head}
    previews = PreviewStore(db)
    current = previews.get(app, event.number)
    if event.at is not None and current is not None and event.at < current.event_at:
        # signed, so not forged, but sent again under a new delivery id: a close replayed after a
        # reopen of the same commit would take the preview down
        message = (f"the event is of {rfc3339(event.at)}, older than the last one applied to {env} "
                   f"({rfc3339(current.event_at)}): a replay; nothing done")
        _audit(db, by, source, app, event.number, f"ignored: {message}", event.commit)
        return {**outcome, "reason": "stale", "message": message}
    if event.move == "close":
        if event.commit and head not in (None, event.commit):  # a replayed close of an older head
            return {**outcome, "reason": "not-head", "message": f"commit {event.commit[:12]} is not the head of "
                    f"{head_ref}: an older event; nothing done"}
        closed = close(db, app, event.number, by, source, f"{event.provider} pull request closed")
        previews.saw_event(app, event.number, event.at)
        return closed
    if head is None:
        raise NotFound(f"{record.repo} has no {head_ref}: nothing to preview",
                       hint="a pull request's commits are under refs/pull/N/head (GitLab: refs/merge-requests/N/head)")
    if event.commit and head != event.commit:
        _audit(db, by, source, app, event.number, f"ignored: {event.commit[:12]} is not the head of {head_ref}",
               event.commit)
        return {**outcome, "reason": "not-head",
                "message": f"commit {event.commit[:12]} is not the head of {head_ref} ({head[:12]}): an older event; "
                           "nothing queued"}
    commit = head
    if current is not None and current.state in ("building", "ready") and current.commit == commit:
        _audit(db, by, source, app, event.number, f"ignored: {env} already has {commit[:12]}", commit)
        return {**outcome, "commit_sha": commit, "reason": "duplicate",
                "message": f"{env} is already {current.state} with {commit[:12]}; nothing queued"}
    spec = load_spec(export_commit(app, record.repo, commit, mirror) / record.spec_file)
    default_head = default_branch_head(mirror)
    policy = load_spec(export_commit(app, record.repo, default_head, mirror) / record.spec_file) \
        if default_head else spec
    if policy.previews is None:
        raise NotFound(f"{app} has no previews: its default branch's {record.spec_file} has no `previews:`",
                       hint="add previews: {from: staging, domain: \"pr-{number}.preview.example.com\"}")
    steps = plan_preview(policy, event.number, spec)
    try:
        check_commit(app, spec, policy, run_branch(event.number), default_branch_name(mirror),
                     settings.load().policy(app), [env])
    except Forbidden as exc:  # said on the commit too: its author sees why no preview comes
        if event.provider != "hand":
            said = server_places([(app, record.repo)]).hide(exc.message.splitlines()[0])  # no server path
            report_later(event.provider, event.repo, commit, event.number, event.project_id,
                         CommitStatus("failure", f"no preview: {said}"))
        raise
    row = previews.claim(app, event.number, commit, not event.fork, event.provider, event.repo, event.project_id,
                         cap=policy.previews.max, ttl_s=policy.previews.ttl)
    if row is None:
        message = (f"{app} has {policy.previews.max} previews already (previews.max): close a pull request's "
                   f"preview first, or raise previews.max")
        refused = previews.refused(app, event.number, commit, not event.fork, event.provider, event.repo,
                                   event.project_id, message)
        _status(refused, CommitStatus("error", f"no preview: {message}"))
        _audit(db, by, source, app, event.number, f"refused: {message}", commit)
        return {**outcome, "commit_sha": commit, "reason": "max", "message": message}
    try:
        run_id = store.create_run(app, commit, run_branch(event.number), event.provider, steps, supersede=True,
                                  started_by=by)
    except BaseException:
        previews.set_state(app, event.number, "failed", "its run could not be queued")  # not building forever
        raise
    previews.set_run(app, event.number, run_id)
    previews.saw_event(app, event.number, event.at)
    _status(row, CommitStatus("pending", f"building preview {env}" + ("" if row.trusted else " (untrusted)")))
    _audit(db, by, source, app, event.number, f"run {run_id} queued", commit)
    log.info("preview %s/%s: run %s queued for %s", app, env, run_id, commit[:12])
    return {**outcome, "commit_sha": commit, "run": run_id, "trusted": row.trusted}


def close(db: StateDB, app: str, number: int, by: str, source: str, why: str) -> dict[str, Any]:
    """Queue the take-down of preview pr-N (containers, accessories and their volumes, names,
    certificates, configuration)."""
    previews = PreviewStore(db)
    env = preview_name(number)
    row = previews.get(app, number)
    if row is None or row.state in ("closed", "refused"):
        if row is not None and row.state == "refused":
            previews.set_state(app, number, "closed", why)
        _audit(db, by, source, app, number, f"nothing to take down ({why})", row.commit if row else "")
        return {"app": app, "preview": env, "reason": "none", "message": f"{app} has no preview {env} to take down"}
    run_id = RunStore(db).create_run(app, row.commit, run_branch(number), row.provider,
                                     [StepDef("down", env, f"take down preview {env}")], supersede=True,
                                     started_by=by)
    previews.set_state(app, number, "closing", why)
    previews.set_run(app, number, run_id)
    _audit(db, by, source, app, number, f"take-down run {run_id} queued ({why})", row.commit)
    return {"app": app, "preview": env, "run": run_id, "commit_sha": row.commit}


def run_ended(db: StateDB, run_id: int, status: str, error: str, url: str) -> None:
    """A preview's run ended: its state, and the commit status (ready with its URL, or the failing step)."""
    previews = PreviewStore(db)
    row = previews.of_run(run_id)
    if row is None or row.state not in ("building", "closing"):
        return
    if row.state == "closing":
        if status == "succeeded":
            previews.set_state(row.app, row.number, "closed", row.message)
        else:
            previews.set_state(row.app, row.number, "failed", f"take-down failed: {error}")
        return
    if status == "succeeded":
        previews.set_state(row.app, row.number, "ready", "", url=url)
        _status(row, CommitStatus("success", f"preview {row.env} is ready" +
                                  ("" if row.trusted else " (untrusted: no secrets)"), url))
    elif status in ("failed", "interrupted"):
        previews.set_state(row.app, row.number, "failed", error)
        _status(row, CommitStatus("failure", f"preview {row.env} failed: {error}"))


ORPHAN_AFTER_S = 60.0  # a run that ended this long ago has said what it had to (runner: finish, then _ended)


def settle_orphans(db: StateDB, now: float | None = None) -> list[PreviewRow]:
    """Previews building or closing whose run ended without saying so (cancelled by hand, or gone):
    marked failed, so they expire, and the cap does not count them forever."""
    store, runs, settled = PreviewStore(db), RunStore(db), []
    now = time.time() if now is None else now
    for row in store.rows():
        if row.state not in ("building", "closing") or row.run_id is None:
            continue
        try:
            run = runs.run(row.run_id)
            status, ended = run.status, run.ended_at or now
        except NotFound:
            status, ended = "gone", 0.0
        if status not in ACTIVE_RUN and now - ended >= ORPHAN_AFTER_S:
            store.set_state(row.app, row.number, "failed", f"its run {row.run_id} ended {status}")
            settled.append(row)
    return settled


def expire(db: StateDB, now: float | None = None) -> list[dict[str, Any]]:
    """Queue the take-down of every preview not updated for its ttl (the server's loop)."""
    done = []
    settle_orphans(db, now)
    for row in PreviewStore(db).expired(now):
        idle = (time.time() if now is None else now) - row.updated_at
        try:
            done.append(close(db, row.app, row.number, "dockyard", "server",
                              f"expired: not updated for {idle:.0f} s (previews.ttl {row.ttl_s:g} s)"))
        except DockyardError as exc:
            log.warning("preview %s/%s not taken down: %s", row.app, row.env, exc)
    return done


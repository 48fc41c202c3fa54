"""What an app runs, environment by environment along its promotion path: the live release, its
replicas as the engine reports them, the blue/green colours and rollback window, the public URLs.

One function for the JSON API (`GET /api/apps/{app}/overview`) and the dashboard's page, so both
show the same thing; each environment is described by deploy/describe.py, as `dockyard status` does.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from dockyard.config.service import ConfigService, open_config_service
from dockyard.deploy.describe import describe_app
from dockyard.errors import DockyardError, NotFound
from dockyard.pipeline.source import _git, work_dir
from dockyard.pipeline.store import RunStore
from dockyard.spec import AppSpec
from dockyard.spec.brief import brief_of
from dockyard.state.db import StateDB


def overview(db: StateDB, spec: AppSpec, commit: str) -> dict[str, Any]:
    envs = describe_app(db, brief_of(spec), lambda: spec)
    in_sync(spec.app, envs)
    last = RunStore(db).runs(spec.app, limit=1)
    return {"app": spec.app, "commit_sha": commit, "environments": envs,
            "last_run": {"id": last[0].id, "status": last[0].status, "commit_sha": last[0].commit_sha}
            if last else None}


def in_sync(app: str, envs: list[dict[str, Any]]) -> None:
    """Each environment's distance to the one before it on the promotion path (as Argo CD's
    OutOfSync): the commits it lacks, and a configuration changed since its live release."""
    mirror = work_dir(app) / "mirror.git"
    config = open_config_service()
    try:
        for index, env in enumerate(envs):
            env["behind"] = None
            live = env["live"]
            changed = _last_change(config, env["name"], app)
            env["config_pending"] = changed if live and changed and changed > live["config_revision"] else None
            before = envs[index - 1] if index else None
            ahead = before["live"] if before else None
            # the image is what moves along the path (each environment has its own configuration)
            if before and ahead and (not live or ahead["commit_sha"] != live["commit_sha"]):
                env["behind"] = {"env": before["name"], "release_id": ahead["release_id"],
                                 "commits": _commits_between(mirror, live and live["commit_sha"],
                                                             ahead["commit_sha"])}
    finally:
        config.close()


def _last_change(config: ConfigService, env: str, app: str) -> int | None:
    try:
        rows = config.store.history(env, [None, app])
    except DockyardError:
        return None
    return max((c.revision for c in rows), default=None)


def _commits_between(mirror: Path, old: str | None, new: str | None) -> int | None:
    """How many commits `new` has that `old` lacks; None when that cannot be told (no mirror yet)."""
    if not old or not new or not mirror.exists():
        return None
    if old == new:
        return 0
    try:
        return int(_git("--git-dir", str(mirror), "rev-list", "--count", f"{old}..{new}").decode().strip())
    except (DockyardError, ValueError):
        return None


def diff_releases(db: StateDB, app: str, env: str, new: int, old: int | None = None) -> dict[str, Any]:
    """Two releases of env (by seq; `old` defaults to the one before `new`) and the configuration
    the app saw change between them, secrets as ***."""
    history = db.releases(app, env, limit=100_000)
    by_seq = {r.seq: r for r in history}
    if new not in by_seq:
        raise NotFound(f"{app}/{env} has no release {new}", hint=f"its releases: GET /api/apps/{app}/releases/{env}")
    if old is None:
        older = [r for r in history if r.seq < new]
        old = max(older, key=lambda r: r.seq).seq if older else None
    if old is not None and old not in by_seq:
        raise NotFound(f"{app}/{env} has no release {old}")
    before = by_seq[old] if old is not None else None
    after = by_seq[new]
    service = open_config_service()
    try:
        changes = service.revision_diff(env, app, before.config_revision if before else 0, after.config_revision)
    finally:
        service.close()
    return {"app": app, "env": env, "old": asdict(before) if before else None, "new": asdict(after),
            "image_changed": before is None or before.image != after.image,
            "config": [asdict(c) for c in changes]}

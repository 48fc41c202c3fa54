"""REST endpoints about apps: the list, environments and what runs in them, releases and the config
diff between two, configuration (secrets masked), rollback and promotion, the audit log."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from dockyard.config.service import open_config_service
from dockyard.pipeline.store import RunStore
from dockyard.server import actions
from dockyard.server.actions import spec_of
from dockyard.server.auth import Token
from dockyard.server.deps import Auth, Db, need, source_of
from dockyard.server.overview import diff_releases, overview
from dockyard.server.previews_api import router as previews_router
from dockyard.server.rollouts_api import router as rollouts_router
from dockyard.server.runs_api import router as runs_router
from dockyard.server.tasks_api import router as tasks_router
from dockyard.state.audit import AuditLog
from dockyard.state.db import StateDB

router = APIRouter()
router.include_router(runs_router)
router.include_router(tasks_router)
router.include_router(rollouts_router)
router.include_router(previews_router)


@router.get("/apps", tags=["apps"])
def apps(db: Db, token: Auth) -> list[dict[str, Any]]:
    """Apps registered for pipelines, each with its last run (those the token reaches)."""
    store = RunStore(db)
    result = []
    for record in (r for r in store.apps() if token.reaches(r.name)):
        last = store.runs(record.name, limit=1)
        result.append({**asdict(record), "last_run": {
            "id": last[0].id, "status": last[0].status, "commit": last[0].commit_sha, "branch": last[0].branch,
        } if last else None})
    return result


@router.get("/apps/{app}/environments", tags=["apps"])
def environments(app: str, db: Db) -> dict[str, Any]:
    """The app's environments in promotion order, as its dockyard.yml says."""
    store = RunStore(db)
    spec, commit = spec_of(store, store.app(app))
    envs = []
    for name in spec.env_names():
        env = spec.environment(name)
        envs.append({"name": name, "engine": env.engine, "registry": env.registry, "strategy": env.strategy,
                     "promote": env.promote, "tests": list(env.tests),
                     "router": env.router.model_dump() if env.router else None,
                     "live": _live(db, app, name)})
    return {"app": app, "commit": commit, "environments": envs}


def _live(db: StateDB, app: str, env: str) -> dict[str, Any] | None:
    live = db.live_release(app, env)
    return {"release_id": live.release_id, "commit": live.commit_sha, "image": live.image} if live else None


@router.get("/apps/{app}/releases/{env}", tags=["apps"])
def releases(app: str, env: str, db: Db, limit: int = 50) -> list[dict[str, Any]]:
    """The release history of an environment, newest first."""
    found = db.release_history(app, env, limit)
    if not found:
        RunStore(db).app(app)  # 404 for an unknown app; an empty list for a known one
    return found


@router.get("/apps/{app}/config/{env}", tags=["apps"])
def config(app: str, env: str) -> dict[str, Any]:
    """The configuration the app sees in env (shared keys overlaid with its own); secrets as ***."""
    service = open_config_service()
    try:
        resolved = service.resolve(env, app, decrypt=False)  # secrets are never decrypted here
    finally:
        service.close()
    return {"app": app, "env": env, "revision": resolved.revision, "values": resolved.display(),
            "secrets": sorted(resolved.secret_keys), "sources": dict(resolved.sources)}


@router.get("/apps/{app}/overview", tags=["apps"])
def app_overview(app: str, db: Db) -> dict[str, Any]:
    """What the app runs in each environment along its promotion path: live release (commit, image,
    config revision), replicas as the engine reports them, blue/green colours and rollback window,
    public URLs. The dashboard's environments page shows exactly this."""
    store = RunStore(db)
    spec, commit = spec_of(store, store.app(app))
    return overview(db, spec, commit)


@router.get("/apps/{app}/releases/{env}/diff", tags=["apps"])
def release_diff(app: str, env: str, db: Db, new: int, old: int | None = None) -> dict[str, Any]:
    """The configuration the app saw change between two releases of env (by their seq; `old`
    defaults to the release before `new`), secrets as ***, with both releases' images and commits."""
    return diff_releases(db, app, env, new, old)


@router.post("/apps/{app}/environments/{env}/rollback", tags=["apps"])
def rollback(app: str, env: str, db: Db, http: Request, token: Auth) -> dict[str, Any]:
    """Restore the previous release of env (deploy scope for env), recorded as done by the token's name.
    Inside a blue/green rollback window it is a switch of the live listener; otherwise the previous
    release is redeployed. The app's dockyard.yml is the registered app's, at its repository's default
    branch: no request names a file of the server. This is what `dockyard rollback` forwards to when
    DOCKYARD_SERVER is set."""
    outcome, log = actions.rollback(db, app, env, token, source_of(http))
    return {"outcome": outcome.as_json(), "log": log}


@router.post("/apps/{app}/environments/{env}/promote", tags=["apps"])
def promote(app: str, env: str, db: Db, http: Request, token: Auth) -> dict[str, Any]:
    """Deploy env's live release (the same image, never a rebuild) to the next environment of the
    promotion path; the token needs the deploy scope of that next environment."""
    outcome, log, target = actions.promote(db, app, env, token, source_of(http))
    return {"target": target, "outcome": outcome.as_json(), "log": log}


@router.get("/audit", tags=["audit"])
def audit(db: Db, token: Annotated[Token, Depends(need("admin"))], env: str | None = None,
          since: float | None = None, limit: int = 200) -> dict[str, Any]:
    """The audit log, newest first (admin scope), and whether its hash chain is whole."""
    log = AuditLog(db)
    return {"rows": [r.as_json() for r in log.rows(since, env, min(limit, 5000))],
            "problems": [f"row {p.seq}: {p.what}" for p in log.verify()]}

"""What an app runs, environment by environment along its promotion path: the live release, its
replicas as the engine reports them, the blue/green colours and rollback window, the public URLs.

One function for the JSON API (`GET /api/apps/{app}/overview`) and the dashboard's page, so both
show the same thing. Reading it changes nothing: no balancer is restarted, no colour removed.
An engine that cannot be reached is said in its environments; the others are still shown.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from dockyard.config.service import open_config_service
from dockyard.engine.client import Engine, connect
from dockyard.engine.observe import observe
from dockyard.errors import DockyardError, NotFound
from dockyard.pipeline.store import RunStore
from dockyard.router.status import env_status, public_urls
from dockyard.spec import AppSpec
from dockyard.state.db import StateDB


def overview(db: StateDB, spec: AppSpec, commit: str) -> dict[str, Any]:
    engines: dict[str, Engine | DockyardError] = {}
    try:
        envs = [_environment(db, spec, name, engines) for name in spec.env_names()]
    finally:
        for engine in engines.values():
            if isinstance(engine, Engine):
                engine.close()
    last = RunStore(db).runs(spec.app, limit=1)
    return {"app": spec.app, "commit": commit, "environments": envs,
            "last_run": {"id": last[0].id, "status": last[0].status, "commit": last[0].commit_sha} if last else None}


def _engine(name: str, engines: dict[str, Engine | DockyardError]) -> Engine | DockyardError:
    if name not in engines:
        try:
            engines[name] = connect(name)
        except DockyardError as exc:
            engines[name] = exc
    return engines[name]


def _environment(db: StateDB, spec: AppSpec, name: str, engines: dict[str, Engine | DockyardError]) -> dict[str, Any]:
    env = spec.environment(name)
    live = db.live_release(spec.app, name)
    data: dict[str, Any] = {
        "name": name, "engine": env.engine, "strategy": env.strategy, "promote": env.promote,
        "tests": list(env.tests),
        "live": {"release_id": live.release_id, "commit": live.commit_sha, "image": live.image,
                 "config_revision": live.config_revision, "at": live.created_at, "by": live.author}
        if live else None,
        "replicas": [], "engine_error": None, "colors": None, "public": public_urls(spec.app, name)["live"],
    }
    engine = _engine(env.engine, engines)
    if isinstance(engine, DockyardError):
        data["engine_error"] = engine.message
        return data
    try:
        data["replicas"] = [{"service": r.service, "replica": r.replica, "name": r.name, "state": r.state,
                             "running": r.running, "release": r.release, "url": r.url, "node": r.node}
                            for r in observe(engine, spec.app, name)]
        if env.strategy == "blue-green" and env.router is not None:
            status = env_status(spec, name, report=lambda _line: None, housekeep=False)
            data["colors"] = {"live": _side(status["live"]), "preview": _side(status["preview"]),
                              "switched_at": status["switched_at"], "rollback_until": status["rollback_until"],
                              "balancer_running": status["router"]["running"]}
    except DockyardError as exc:
        data["engine_error"] = exc.message
    return data


def _side(side: dict[str, Any]) -> dict[str, Any]:
    return {"color": side["color"], "release": side["release"], "url": side["url"],
            "running": sum(1 for r in side["replicas"] if r["running"]), "replicas": len(side["replicas"])}


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

"""What one environment of an app runs, for every strategy and target: its live release, each replica
judged by its own release's health probe, the URLs, maintenance, accessories, and the colours and
rollback window where there are colours (issue 27).

One function for `dockyard status`, the JSON API's overview and the dashboard, so all three say the
same thing. Reading it changes nothing: no balancer is restarted, no colour removed. An engine that
cannot be reached is said in its environment; the others are still described.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from functools import cache
from typing import TYPE_CHECKING, Any

from dockyard.deploy.probes import judge_all
from dockyard.deploy.rollout_store import RolloutStore
from dockyard.engine.client import connect
from dockyard.engine.facts import AccessoryState
from dockyard.engine.interface import Engine
from dockyard.engine.placement import placement
from dockyard.engine.rows import Running
from dockyard.errors import DockyardError
from dockyard.router.edge_routes import EdgeRoutes
from dockyard.spec.brief import SpecBrief
from dockyard.state.db import StateDB

if TYPE_CHECKING:
    from dockyard.router.status import Report
    from dockyard.spec import AppSpec
from dockyard.vocabulary import absent, rfc3339


class Engines:
    """One connection per engine name for a whole description, closed together; a failed connection
    is kept as its error, so each environment on it says so. What runs of an app is read once per
    engine, for all of its environments there (`rows`, `accessories`), until a chore changed it."""

    def __init__(self) -> None:
        self.found: dict[str, Engine | DockyardError] = {}
        self._rows: dict[tuple[str, str], list[Running]] = {}
        self._accessories: dict[tuple[str, str], list[AccessoryState]] = {}

    def rows(self, name: str, engine: Engine, app: str, env: str) -> list[Running]:
        if (name, app) not in self._rows:
            self._rows[name, app] = engine.observe(app)
        return [r for r in self._rows[name, app] if r.env == env]

    def accessories(self, name: str, engine: Engine, app: str, env: str) -> list[AccessoryState]:
        if (name, app) not in self._accessories:
            self._accessories[name, app] = engine.list_accessories(app)
        return [a for a in self._accessories[name, app] if a.env == env]

    def changed(self, name: str) -> None:
        """A chore changed what runs on the engine: read it again."""
        self._rows = {key: rows for key, rows in self._rows.items() if key[0] != name}
        self._accessories = {key: found for key, found in self._accessories.items() if key[0] != name}

    def get(self, name: str) -> Engine | DockyardError:
        if name not in self.found:
            try:
                self.found[name] = connect(name)
            except DockyardError as exc:
                self.found[name] = exc
        return self.found[name]

    def close(self) -> None:
        for engine in self.found.values():
            if not isinstance(engine, DockyardError):
                engine.close()


def maintenance(app: str, env: str, edge: EdgeRoutes | None = None) -> str | None:
    """The message of the edge's 503 page while the environment is in maintenance; None: serving."""
    try:
        route = (edge or EdgeRoutes()).route(app, env)
    except DockyardError:
        return None
    return route.maintenance if route is not None else None


def describe_environment(db: StateDB, spec: SpecBrief, name: str, engines: Engines, full: Callable[[], AppSpec],
                         edge: EdgeRoutes | None = None, chores: Report | None = None) -> dict[str, Any]:
    """`spec` is what reads know of the spec (spec/brief.py); `full()` gives the whole spec, which
    only an environment with colours needs (its balancer). `chores`: first do a blue-green
    environment's housekeeping (router/status.housekeep) on the same connection, reporting there;
    the description then shows what it did."""
    env = spec.environment(name)
    edge = edge or EdgeRoutes()  # one (its site settings read once) for the URLs and the maintenance page
    live = db.live_release(spec.app, name)
    data: dict[str, Any] = {
        "name": name, "engine": env.engine, "strategy": env.strategy, "promote": env.promote,
        "tests": list(env.tests),
        "live": {"release_id": live.release_id, "commit_sha": live.commit_sha, "image": live.image,
                 "config_revision": live.config_revision, "created_at": rfc3339(live.created_at),
                 "actor": live.author}
        if live else None,
        "replicas": [], "engine_error": None, "colors": None, "public": edge.env_urls(spec.app, name)["live"],
        "maintenance": maintenance(spec.app, name, edge), "accessories": [],
        "failed": None, "rollout": rollout_in_progress(db, spec.app, name),
    }
    newest = db.releases(spec.app, name, limit=1)
    if newest and newest[0].status == "failed":  # the last try failed: why, beside what still runs
        data["failed"] = {"release_id": newest[0].release_id, "note": absent(newest[0].note),
                          "created_at": rfc3339(newest[0].created_at)}
    engine = engines.get(env.engine)
    if isinstance(engine, DockyardError):
        data["engine_error"] = engine.message
        return data
    # a chore that fails (a balancer that will not start) fails the command, as it says what is wrong
    # the whole spec is read (pydantic) only when there is housekeeping to do
    done: list[str] = []
    drift: list[str] = []
    if env.colors:  # the balancer's machinery, for an environment with colours only
        from dockyard.router.status import env_status, housekeep, needs_housekeeping
    if chores is not None and env.colors and needs_housekeeping(spec, name, engine):
        done, drift = housekeep(full(), name, engine, chores)
        if done:
            engines.changed(env.engine)
    try:
        rows = engines.rows(env.engine, engine, spec.app, name)
        health = judge_all(rows, spec.probes)
        data["replicas"] = [{"service": r.service, "replica": r.replica, "name": r.name, "state": r.state,
                             "running": r.running, "health": h, "release_id": absent(r.release), "color": r.color,
                             "url": r.url, "node": absent(r.node)} for r, h in zip(rows, health, strict=True)]
        if placement(engine).hosts_accessories:
            data["accessories"] = [asdict(a) for a in engines.accessories(env.engine, engine, spec.app, name)]
        if env.colors and env.router is not None:
            status = env_status(spec, name, engine, edge)
            public = status["public"]
            router = status["router"]
            data["colors"] = {"live": _side(status["live"], public["live"]),
                              "preview": _side(status["preview"], public["preview"]),
                              "switched_at": rfc3339(status["switched_at"]),
                              "rollback_window": status["rollback_window"],
                              "rollback_until": rfc3339(status["rollback_until"]),
                              "balancer_running": router["running"], "balancer_pid": router["pid"],
                              "balancer_config": router["config"], "housekeeping": done, "drift": drift}
    except DockyardError as exc:
        data["engine_error"] = exc.message
    return data


def rollout_in_progress(db: StateDB, app: str, env: str) -> dict[str, Any] | None:
    """The environment's canary rollout in progress, in brief (`dockyard rollout status` has the rest)."""
    row = RolloutStore(db).latest(app, env)
    if row is None or not row.active:
        return None
    return {"release_id": row.release_id, "stable_release_id": row.stable_release, "state": row.state,
            "step": row.step + 1, "steps": len(row.steps), "weight": row.weight}


def describe_app(db: StateDB, spec: SpecBrief, full: Callable[[], AppSpec], envs: list[str] | None = None,
                 chores: Report | None = None) -> list[dict[str, Any]]:
    """Every environment (or these), in promotion order; see describe_environment."""
    engines, edge, whole = Engines(), EdgeRoutes(), cache(full)  # the whole spec read once, if at all
    try:
        return [describe_environment(db, spec, name, engines, whole, edge, chores) for name in envs or spec.env_names()]
    finally:
        engines.close()


def _side(side: dict[str, Any], public: list[str]) -> dict[str, Any]:
    return {"color": side["color"], "release_id": side["release_id"], "url": side["url"],
            "running": sum(1 for r in side["replicas"] if r["running"]), "replicas": len(side["replicas"]),
            "public": public}

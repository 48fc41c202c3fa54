"""What a blue-green environment serves right now: live and preview colours, releases, URLs.

Read from the running system only: the balancer's configuration on disk and its nginx process,
and the containers' labels. `status ENV` also does the housekeeping nobody else would
(`housekeep`): a dead balancer is restarted and an idle colour whose rollback window ended is
drained and removed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dockyard.engine.interface import Engine
from dockyard.errors import DeployError, UsageError
from dockyard.plan.bluegreen import plan_housekeeping
from dockyard.router import colors as C
from dockyard.router.edge_routes import EdgeRoutes
from dockyard.router.nginx import NginxRouter
from dockyard.router.render import RouterState
from dockyard.router.switch import Switchboard, board_spec, fleet_for, url
from dockyard.spec.brief import SpecBrief
from dockyard.state.lock import env_lock

if TYPE_CHECKING:
    from dockyard.spec import AppSpec

Report = Callable[[str], None]


def housekeep(spec: AppSpec, env: str, engine: Engine, report: Report) -> tuple[list[str], list[str]]:
    """What reading a blue-green environment's status also does: a dead balancer started, an idle
    colour whose rollback window ended removed, drifted upstreams repaired. (what was done, drift)"""
    env_spec = spec.environment(env)
    assert env_spec.router is not None  # a colours environment has one (spec/)
    board = Switchboard(board_spec(spec, env), engine, report, router=NginxRouter(spec.app, env, report=report))
    try:
        with env_lock(spec.app, env, doing="status", mind_hand_lock=False):
            return [step.describe() for step in board.housekeep(env_spec.router.rollback_window)], board.reconcile()
    except DeployError:
        report(f"{spec.app}/{env} is being deployed; no housekeeping now")
        return [], []


def needs_housekeeping(spec: SpecBrief, env: str, engine: Engine, now: float | None = None) -> bool:
    """Whether `housekeep` would do anything (a dead balancer, an idle colour past its window, a
    drifted upstream), read from the balancer's state on disk and the replicas: `status ENV` reads
    the whole spec to do it only then."""
    env_spec = spec.environment(env)
    if not env_spec.colors or env_spec.router is None:
        return False
    router = NginxRouter(spec.app, env, report=lambda _line: None)
    current = router.current()
    replicas = fleet_for(engine, spec.app, env).replicas()
    facts = C.facts(current, router.pid() is not None, replicas, time.time() if now is None else now)
    if plan_housekeeping(facts, env_spec.router.rollback_window):
        return True
    return current is not None and bool(C.drift(current, C.rebuilt(current, replicas)))


def env_status(spec: SpecBrief, env: str, engine: Engine, edge: EdgeRoutes | None = None) -> dict[str, Any]:
    """The balancer of a blue-green environment: its process, and the colours it sends where. A read:
    what the spec's brief says (spec/brief.py) is enough, as the balancer's own state is on disk."""
    env_spec = spec.environment(env)
    if not env_spec.colors or env_spec.router is None:
        raise UsageError(f"{spec.app}/{env} uses strategy {env_spec.strategy}; it has no balancer",
                         hint=f"see its containers with: dockyard ps {env}")
    window = env_spec.router.rollback_window
    router = NginxRouter(spec.app, env, report=lambda _line: None)
    replicas = fleet_for(engine, spec.app, env).replicas()
    state = router.current() or RouterState(spec.app, env, env_spec.router.live, env_spec.router.preview,
                                            service=spec.routed, engine=env_spec.engine)
    pid = router.pid()

    def side(which: str, port: int) -> dict[str, Any]:
        current = getattr(state, which)
        color = current.color if current else None
        mine = [r for r in replicas if color and r.color == color]
        return {"color": color, "release_id": (current.release or None) if current else None, "url": url(port),
                "replicas": [{"name": r.name, "service": r.service, "running": r.running,
                              "url": f"http://{r.address}" if r.address else None} for r in mine]}

    until = state.switched_at + window if state.preview and state.switched_at is not None else None
    return {
        "app": spec.app, "env": env,
        "router": {"running": pid is not None, "pid": pid, "config": str(router.paths.conf),
                   "generation": state.generation},
        "live": side("live", state.live_port),
        "preview": side("preview", state.preview_port),
        "switched_at": state.switched_at,
        "rollback_window": window,
        "rollback_until": until,
        "public": (edge or EdgeRoutes()).env_urls(spec.app, env),
    }


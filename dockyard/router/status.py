"""What a blue-green environment serves right now: live and preview colours, releases, URLs.

Read from the running system only: the balancer's configuration on disk and its nginx process,
and the containers' labels. Reading it also does the housekeeping nobody else would: a dead
balancer is restarted and an idle colour whose rollback window ended is drained and removed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.engine.client import connect
from dockyard.engine.interface import Engine
from dockyard.errors import DeployError, UsageError
from dockyard.router.edge import Edge
from dockyard.router.nginx import NginxRouter
from dockyard.router.switch import Switchboard, url
from dockyard.spec import AppSpec
from dockyard.state.lock import env_lock

Report = Callable[[str], None]


def env_status(spec: AppSpec, env: str, report: Report, housekeep: bool = True,
               engine: Engine | None = None) -> dict[str, Any]:
    """`engine`: a connection the caller already has (kept open), else one made and closed here."""
    env_spec = spec.environment(env)
    if not env_spec.switching.colors or env_spec.router is None:
        raise UsageError(f"{spec.app}/{env} uses strategy {env_spec.strategy}; status shows the balancers of a "
                         "blue-green environment", hint=f"see its containers with: dockyard ps {env}")
    window = env_spec.router.rollback_window
    own = engine is None
    engine = engine or connect(env_spec.engine)
    try:
        router = NginxRouter(spec.app, env, report=report)
        board = Switchboard(spec, engine, env, report, router=router)
        done: list[str] = []
        drift: list[str] = []
        if housekeep:
            try:
                with env_lock(spec.app, env):
                    done = [step.describe() for step in board.housekeep(window)]
                    drift = board.reconcile()
            except DeployError:
                report(f"{spec.app}/{env} is being deployed; no housekeeping now")
        replicas = board.replicas()
        state = board.router.current() or board.state
        pid = board.router.pid()
    finally:
        if own:
            engine.close()

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
        "housekeeping": done,
        "drift": drift,
        "public": public_urls(spec.app, env),
    }


def public_urls(app: str, env: str, edge: Edge | None = None) -> dict[str, list[str]]:
    """The URLs the host's edge serves the environment on: live ones, and the preview's own name."""
    edge = edge or Edge()
    route = edge.route(app, env)
    if route is None:
        return {"live": [], "preview": []}
    port = "" if edge.site.http_port == 80 else f":{edge.site.http_port}"
    return {"live": route.urls(edge.site),
            "preview": [f"http://{route.preview_name}{port}/"] if route.preview_name else []}

"""Route one environment's traffic between its colours, and retire a colour.

`Switchboard` joins the two halves of the running system: the balancer (nginx.conf on disk and
the nginx process) and the colours' replicas (the fleet: containers and their labels, or a Swarm
service per colour and its tasks). Every new balancer state is rebuilt from the replicas that run
now, so published ports that changed (a container that restarted, a task Swarm replaced) are
picked up, and nothing depends on what Dockyard remembered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from dockyard.engine.facts import ReplicaFacts
from dockyard.engine.interface import Engine
from dockyard.engine.placement import CONTAINERS, SWARM, placement
from dockyard.errors import DeployError
from dockyard.plan.bluegreen import BGStep, Facts, Step, plan_housekeeping
from dockyard.router import colors as C
from dockyard.router.nginx import NginxRouter
from dockyard.router.render import RouterState
from dockyard.router.swarm_fleet import SwarmFleet

if TYPE_CHECKING:
    from dockyard.spec import AppSpec

Report = Callable[[str], None]
DRAIN_TIMEOUT = 60.0  # nginx's worker_shutdown_timeout: old workers never hold requests longer
UNCHANGED = "unchanged"


class Balancer(Protocol):
    """One environment's balancer: NginxRouter, or a unit test's fake."""

    def current(self) -> RouterState | None: ...

    def pid(self) -> int | None: ...

    def apply(self, state: RouterState, wait: float = 5.0) -> float: ...

    def wait_drained(self, timeout: float) -> bool: ...

    def remove(self, timeout: float = 10.0) -> bool: ...


def nginx_router(app: str, env: str, report: Report) -> Balancer:
    return NginxRouter(app, env, report=report)


@dataclass(frozen=True)
class BoardSpec:
    """What a switchboard needs of dockyard.yml: its environment's balancer ports and engine, the
    service behind the balancer and each service's stop grace. Made from the whole spec
    (`board_spec`), or from what a rollback reads of it (spec/brief.py)."""

    app: str
    env: str
    engine: str
    live: int
    preview: int
    service: str
    grace: dict[str, float]


def board_spec(spec: AppSpec, env: str) -> BoardSpec:
    router = spec.environment(env).router
    if router is None:
        raise DeployError(f"{spec.app}/{env}: blue-green needs router: {{live: PORT, preview: PORT}} in dockyard.yml")
    return BoardSpec(spec.app, env, spec.environment(env).engine, router.live, router.preview,
                     C.routed_service(spec), {name: s.stop_grace for name, s in spec.services.items()})


def empty_state(board: BoardSpec) -> RouterState:
    return RouterState(board.app, board.env, board.live, board.preview, service=board.service, engine=board.engine)


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


# engine/placement.py's kind -> its colours' replicas: containers on one engine, or a Swarm's colour services
FLEETS: dict[str, Callable[[Engine, str, str], C.Fleet]] = {CONTAINERS.kind: C.ContainerFleet, SWARM.kind: SwarmFleet}


def fleet_for(engine: Engine, app: str, env: str) -> C.Fleet:
    return FLEETS[placement(engine).kind](engine, app, env)


class Switchboard:
    def __init__(self, board: BoardSpec, engine: Engine, report: Report,
                 router: Balancer | None = None, fleet: C.Fleet | None = None) -> None:
        self.board, self.engine, self.env, self.report = board, engine, board.env, report
        self.router = router or nginx_router(board.app, board.env, report)
        self.fleet = fleet or fleet_for(engine, board.app, board.env)  # a deploy's Target gives its own
        self.grace = board.grace
        self.service = board.service
        fresh = empty_state(board)
        current = self.router.current()
        # The state on disk, with the ports dockyard.yml names now (they may have been edited).
        self.state = fresh if current is None else replace(current, live_port=fresh.live_port,
                                                           preview_port=fresh.preview_port, service=fresh.service,
                                                           engine=fresh.engine)

    @property
    def live(self) -> str | None:
        return self.state.live.color if self.state.live else None

    @property
    def preview(self) -> str | None:
        return self.state.preview.color if self.state.preview else None

    def replicas(self) -> list[C.Replica]:
        return self.fleet.replicas()

    def facts(self, now: float | None = None) -> Facts:
        return C.facts(self.router.current(), self.router.pid() is not None, self.replicas(),
                       time.time() if now is None else now)

    def route(self, live: str | None = UNCHANGED, preview: str | None = UNCHANGED,
              switched_at: float | None = None, replicas: list[C.Replica] | None = None) -> float:
        """Point the listeners at colours (None: at no colour) and load it. Seconds it took."""
        live = self.live if live == UNCHANGED else live
        preview = self.preview if preview == UNCHANGED else preview
        replicas = self.replicas() if replicas is None else replicas
        known = (self.state.live, self.state.preview)
        new = self.state.next(live=C.kept(replicas, live, self.service, known) if live else None,
                              preview=C.kept(replicas, preview, self.service, known) if preview else None,
                              switched_at=switched_at if switched_at is not None else self.state.switched_at)
        seconds = self.router.apply(new)
        self.state = new
        return seconds

    def ensure_router(self) -> None:
        """Start the balancer if it is down, on the colours that run now."""
        if self.router.pid() is None:
            self.route()

    def retire(self, color: str, reason: str = "") -> None:
        """Take the colour off both listeners, let nginx finish its requests to it, then remove it."""
        if color in (self.live, self.preview) or self.router.pid() is None:
            self.route(live=None if self.live == color else UNCHANGED,
                       preview=None if self.preview == color else UNCHANGED)
        started = time.monotonic()
        if not self.router.wait_drained(DRAIN_TIMEOUT):
            self.report(f"nginx still held requests to {color} after {DRAIN_TIMEOUT:g}s; removing it anyway")
        drained = time.monotonic() - started
        removed = self.fleet.remove_color(color, self.grace)
        if removed:
            self.report(f"removed {color} ({removed} replica(s), drained in {drained:.2f}s)"
                        + (f": {reason}" if reason else ""))

    def park(self, color: str, reason: str = "") -> int:
        """Stop the colour's running workers (services without a port): a standby colour's workers
        must not work beside the live one's. How many were stopped."""
        workers = [r for r in self.replicas() if r.color == color and r.worker and r.running]
        self.fleet.park(workers, self.grace)
        if workers:
            self.report(f"stopped {color}'s {len(workers)} worker(s)" + (f": {reason}" if reason else ""))
        return len(workers)

    def unpark(self, color: str) -> tuple[int, list[ReplicaFacts]]:
        """Start the colour's parked workers again: how many, and the containers to wait for (a
        Swarm fleet waits for its tasks itself)."""
        parked = [r for r in self.replicas() if r.color == color and r.parked]
        return len(parked), self.fleet.unpark(parked) if parked else []

    def shrink(self, ids: set[str], reason: str = "") -> float:
        """Take some replicas out of the balancer (reload), let nginx finish their requests, then
        stop and remove them. Seconds the drain took. Used by the autoscaler's scale-in."""
        everything = self.replicas()
        doomed = [r for r in everything if r.id in ids]
        self.route(replicas=[r for r in everything if r.id not in ids])
        started = time.monotonic()
        if not self.router.wait_drained(DRAIN_TIMEOUT):
            self.report(f"nginx still held requests after {DRAIN_TIMEOUT:g}s; removing anyway")
        drained = time.monotonic() - started
        self.fleet.remove(doomed, self.grace)
        for replica in doomed:
            self.report(f"removed {replica.name} (drained in {drained:.2f}s)" + (f": {reason}" if reason else ""))
        return drained

    def reconcile(self) -> list[str]:
        """Point the listeners' colours at the addresses their replicas have now (after an engine
        restart, a replica restarted by its policy...): what had drifted, repaired with one reload."""
        if self.router.current() is None:
            return []
        now = C.rebuilt(self.state, self.replicas())
        found = C.drift(self.state, now)
        if found:
            new = self.state.next(live=now.live, preview=now.preview)
            self.router.apply(new)
            self.state = new
            for line in found:
                self.report(f"drift repaired: {line}")
        return found

    def housekeep(self, window: float, now: float | None = None) -> list[BGStep]:
        """Restart a dead balancer; retire an idle colour whose rollback window ended."""
        steps = plan_housekeeping(self.facts(now), window)
        for step in steps:
            self.report(step.describe())
            if step.kind is Step.ROUTER:
                self.ensure_router()
            elif step.kind is Step.RETIRE:
                self.retire(step.color, step.reason)
        return steps

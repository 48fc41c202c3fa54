"""The balancer watch: every balancer on this host supervised, and kept on the addresses its
colours' replicas have now. Runs in `dockyard server` (a thread beside the pipeline worker) and
as `dockyard balancers watch`.

Each round (every 0.5 s), for every balancer under $DOCKYARD_HOME/router/ and for the host's edge:
- a master that died is started again on its configuration, after the workers it left behind
  (which still hold the listening sockets) are ended; a configuration edited by hand is rendered
  again from its state line. Both read only /proc and the file: cheap enough for every round;
- every DRIFT_EVERY seconds (every round after an engine error, or while a listener has no
  server), the upstreams are compared with the running replicas of each listener's colour, read
  from the engine the state line names, and a difference (an engine restart, a replica restarted
  on another port) is repaired with one graceful reload. Replicas on an engine of this host keep
  their ports across engine restarts, so this is the rare case; asking the engine twice a second
  per environment would cost CPU that a small host's deploys and rollbacks feel.
An environment being deployed is left to its deploy (the deploy lock is held). What a round did is
reported, never raised: one broken balancer does not stop the others from being watched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dockyard import settings
from dockyard.engine.client import connect
from dockyard.engine.interface import Engine
from dockyard.errors import DeployError, DockyardError, EngineUnavailable
from dockyard.router import colors as C
from dockyard.router.edge import Edge
from dockyard.router.edge_routes import edge_dir
from dockyard.router.nginx import NginxRouter
from dockyard.router.switch import fleet_for
from dockyard.state.lock import env_lock

log = logging.getLogger("dockyard.balancers")
Report = Callable[[str], None]
INTERVAL = 0.5  # seconds between rounds: a dead master is seen within this
DRIFT_EVERY = 3.0  # seconds between two looks at an environment's replicas


def balancers(home: Path | None = None) -> list[NginxRouter]:
    """The balancers Dockyard made on this host, each from its directory and configuration."""
    root = (home or settings.home()) / "router"
    found = (NginxRouter.at(conf.parent) for conf in sorted(root.glob("*/nginx.conf")))
    return [router for router in found if router is not None]


class BalancerWatch:
    def __init__(self, report: Report | None = None, home: Path | None = None,
                 engines: Callable[[str], Engine] = connect, drift_every: float = DRIFT_EVERY) -> None:
        self.report = report or (lambda line: log.info("%s", line))
        self.home = home
        self.engines = engines
        self.drift_every = drift_every
        self._looked: dict[str, float] = {}  # balancer -> when its replicas were last compared
        self._connected: dict[str, Engine] = {}
        self._failing: dict[str, str] = {}  # balancer -> the error its last round ended in

    def round(self) -> list[str]:
        """One look at every balancer; what was done, one line each."""
        done: list[str] = []
        for router in balancers(self.home):
            where = f"{router.app}/{router.env}"
            try:
                done += [f"{where}: {line}" for line in self.check(router)]
                self._failing.pop(where, None)
            except DeployError:
                continue  # being deployed: the deploy routes it
            except DockyardError as exc:
                if isinstance(exc, EngineUnavailable):
                    self.forget_engines()  # the next round connects again
                error = exc.message.splitlines()[0]
                if self._failing.get(where) != error:  # said once, not twice a second while it lasts
                    done.append(f"{where}: {error}")
                self._failing[where] = error
                self._looked.pop(where, None)  # look again next round
        done += self._edge()
        for line in done:
            self.report(line)
        return done

    def _edge(self) -> list[str]:
        """The host's edge, supervised as a balancer is: a dead edge started again, a hand edit undone."""
        if not (edge_dir(self.home) / "routes").is_dir():
            return []
        try:
            done = [f"edge: {line}" for line in Edge(home=self.home).repair()]
            self._failing.pop("edge", None)
            return done
        except DockyardError as exc:
            error = exc.message.splitlines()[0]
            said = self._failing.get("edge") == error
            self._failing["edge"] = error
            return [] if said else [f"edge: {error}"]

    def check(self, router: NginxRouter) -> list[str]:
        # a deploy holds it: the deploy routes; a lock by hand does not stop a repair
        with env_lock(router.app, router.env, contended=0, doing="balancer watch", mind_hand_lock=False):
            done: list[str] = []
            router.report = done.append
            if router.restart_if_dead():
                done.append("the balancer's master had died: started again on its configuration")
            state = router.current()
            if state is None:
                return done
            if router.hand_edited():
                state = state.next()
                router.apply(state)
                done.append(f"{router.paths.conf} was edited by hand: rendered again from its state line")
            if state.engine is None or state.service is None:
                return done  # written before the watch existed: the next deploy adds what it needs
            where = f"{state.app}/{state.env}"
            empty = any(side is not None and not side.servers for side in (state.live, state.preview))
            if not empty and time.monotonic() - self._looked.get(where, -self.drift_every) < self.drift_every:
                return done  # a listener without a server is looked at every round until it has one
            self._looked[where] = time.monotonic()
            now = C.rebuilt(state, fleet_for(self._engine(state.engine), state.app, state.env).replicas())
            found = C.drift(state, now)
            if found:
                router.apply(state.next(live=now.live, preview=now.preview))
                done += [f"drift repaired: {line}" for line in found]
            return done

    def _engine(self, name: str) -> Engine:
        if name not in self._connected:
            self._connected[name] = self.engines(name)
        return self._connected[name]

    def forget_engines(self) -> None:
        """Drop the connections: after an engine error the next round connects again."""
        for engine in self._connected.values():
            engine.close()
        self._connected.clear()

    def run(self, stop: threading.Event, interval: float = INTERVAL) -> None:
        while not stop.is_set():
            try:
                self.round()
            except Exception as exc:  # noqa: BLE001 - a watch that dies watches nothing
                log.warning("balancer watch: %s", exc)
                self.forget_engines()
            stop.wait(interval)
        self.forget_engines()

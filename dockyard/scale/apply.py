"""Apply a scaling decision: start or stop replicas of the live release, or resize a Swarm service.

The launch template is the live release itself (image digest + config revision, from the state
database), turned into a Workload by the Deployer's own path, so a new replica is created exactly
as a deploy would create it (limits, user, capabilities, secrets, config files, labels). Its
config-hash must equal the running replicas': when dockyard.yml changed since the release was
deployed, scaling out refuses and says to deploy.

- blue-green: a new replica starts on the live colour, must pass its health check, and only then
  is added to the live upstream (reload); a removed one is first taken out (reload), drained, then
  stopped and removed (Switchboard.shrink).
- rolling/recreate without a router: replicas are started (healthy first, then at the edge when the
  environment has domains) or taken out of the edge, drained and stopped.
- Swarm: the service's replica count is updated and the new tasks are waited for.
Everything runs under the environment's deploy lock, so it never interleaves with a deploy.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dockyard.deploy.bluegreen import ColorExecutor, colored
from dockyard.deploy.deployer import Deployer
from dockyard.deploy.executor import Executor, Workload
from dockyard.deploy.targets.containers import ContainerTarget, container_workload
from dockyard.deploy.targets.swarm import SwarmTarget
from dockyard.engine import labels as L
from dockyard.engine.interface import Engine
from dockyard.engine.placement import placement
from dockyard.errors import DeployError
from dockyard.plan.deploy import Action, Kind
from dockyard.router.switch import Switchboard, board_spec
from dockyard.scale.facts import Serving, serving
from dockyard.state.lock import env_lock

Report = Callable[[str], None]


def free_slots(taken: set[int], count: int) -> list[int]:
    """The `count` lowest replica numbers not in use (a stopped container still holds its name)."""
    slots: list[int] = []
    n = 1
    while len(slots) < count:
        if n not in taken:
            slots.append(n)
        n += 1
    return slots


def victims(running: list[Serving], count: int) -> list[Serving]:
    """Which replicas a scale-in removes: the highest numbers first (the newest slots)."""
    return sorted(running, key=lambda r: (r.replica, r.name), reverse=True)[:count]


class Scaler:
    def __init__(self, deployer: Deployer, engine: Engine, env: str, report: Report) -> None:
        self.deployer, self.engine, self.env, self.report = deployer, engine, env, report
        self.spec = deployer.spec
        self.env_spec = self.spec.environment(env)
        self.parts = deployer.parts

    def _board(self) -> Switchboard:
        return Switchboard(board_spec(self.spec, self.env), self.engine, self.report,
                           router=self.parts.balancers(self.spec.app, self.env, self.report))

    def scale(self, service: str, desired: int, reason: str, wait: bool = False) -> str:
        """Bring `service` to `desired` serving replicas; what was done, in one line. `wait`: for a
        deploy (or another scaling) that holds the environment, instead of failing at once."""
        writers = self.spec.service(service).writers()
        if desired > 1 and writers:
            raise DeployError(f"{self.spec.where('services', service, 'volumes')}: {self.spec.app}/{self.env}/"
                              f"{service} cannot run {desired} replicas: its volume {writers[0].name} is written "
                              "by one container at a time", hint="set shared: true on the volume if the app "
                              "allows several writers")
        with env_lock(self.spec.app, self.env, wait=wait, doing="scale"):
            running = serving(self.engine, self.spec, self.env, service,
                              self.parts.balancers(self.spec.app, self.env, self.report))
            if desired == len(running):
                return f"already {desired}"
            if placement(self.engine).keeps_count:  # Swarm: the service's count, its tasks waited for
                return SwarmTarget(self.deployer, self.engine, self.env).resize(service, desired, reason)
            if desired > len(running):
                return self._grow(service, running, desired - len(running), reason)
            return self._shrink(service, victims(running, len(running) - desired), reason)

    # containers -----------------------------------------------------------
    def _template(self, service: str, top: int) -> tuple[Workload, str]:
        """The live release as a Workload with replica specs up to number `top`; and its release id."""
        app = self.spec.app
        live = self.deployer.db.live_release(app, self.env)
        if live is None:
            raise DeployError(f"{app}/{self.env} has no live release to scale", hint=f"dockyard deploy {self.env}")
        resolved, files = self.deployer.resolve(self.env, live.config_revision)
        prepared = self.deployer.identify(self.engine, self.env, live.image, resolved, files, counts={service: top})
        release = prepared.release_id
        if release != live.release_id:
            raise DeployError(f"{app}/{self.env}: the live release {live.release_id} cannot be rebuilt here "
                              f"(its configuration files now render as release {release})",
                              hint=f"deploy the change first: dockyard deploy {self.env}")
        workload = container_workload(self.spec, prepared, self.engine.is_local_host)
        return workload, release

    def _grow(self, service: str, running: list[Serving], more: int, reason: str) -> str:
        everything = self.engine.list_replicas(self.spec.app, self.env, service)
        color = running[0].color if running else None
        taken = {int(c.labels.get(L.REPLICA) or 0) for c in everything if c.labels.get(L.COLOR) == color}
        slots = free_slots(taken, more)
        workload, release = self._template(service, max(slots))
        want_hash = workload.replicas[(service, 1)].config_hash
        if running and {r.config_hash for r in running} != {want_hash}:
            raise DeployError(f"{self.spec.app}/{self.env}/{service}: dockyard.yml changed since release {release} "
                              "was deployed; a new replica would differ from the ones that serve",
                              hint=f"deploy the change first: dockyard deploy {self.env}")
        creates = [Action(Kind.CREATE, service, n, reason) for n in slots]
        started = time.monotonic()
        if color is not None:  # blue-green: start on the live colour, healthy first, then into the upstream
            ColorExecutor(self.engine, colored(workload, color), None, self.report, probe=self.parts.probe
                          ).apply(creates)
            if self.env_spec.router is None:  # a canary's colour: at the edge, like any replica
                self._containers().route()
                return (f"started {len(slots)} replica(s) of {release} on {color} (slots {slots}) in "
                        f"{time.monotonic() - started:.1f}s")
            self._board().route()
            return (f"started {len(slots)} replica(s) of {release} on {color} (slots {slots}), healthy and in the "
                    f"live upstream after {time.monotonic() - started:.1f}s")
        Executor(self.engine, workload, None, self.report, probe=self.parts.probe).apply(creates)
        self._containers().route()  # healthy first, then at the edge
        return f"started {len(slots)} replica(s) of {release} (slots {slots}) in {time.monotonic() - started:.1f}s"

    def _shrink(self, service: str, doomed: list[Serving], reason: str) -> str:
        started = time.monotonic()
        names = ", ".join(r.name for r in doomed)
        if doomed[0].color is not None and self.env_spec.router is not None:
            drained = self._board().shrink({r.id for r in doomed}, reason)
            return f"removed {names}: out of the upstream, drained in {drained:.2f}s, stopped"
        grace = self.spec.service(service).stop_grace if service in self.spec.services else 10.0
        # no balancer in front: out of the edge (if it has names) and drained, then stopped and removed
        self._containers().route(leaving=frozenset(r.id for r in doomed))
        for replica in doomed:
            self._stop(replica.id, replica.name, grace)
        return f"removed {names} in {time.monotonic() - started:.1f}s"

    def _containers(self) -> ContainerTarget:
        return ContainerTarget(self.deployer, self.engine, self.env)

    def _stop(self, container_id: str, name: str, grace: float) -> None:
        if self.engine.stop_and_remove(container_id, name, grace):
            self.report(f"removed {name}")

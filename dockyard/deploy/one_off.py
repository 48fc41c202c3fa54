"""One-off containers of a release: the release task (deploy/release_task.py) and `dockyard run`.

Made from the release's workload, as a replica of one of its services would be (the environment's
configuration, secrets, rendered files, that service's user, resources, volumes and env, the
environment's network where its accessories answer by name), with its own command, no published
port, no restart, and the `dockyard.task` label instead of `dockyard.managed`, so no deploy, scale
or switch takes it for a replica.

An ended one-off is removed LOG_GRACE seconds after it ended, not at once: the host's log forwarder
finds containers on the engine's events and by scanning their folder every second, and reads a file
it has opened even once the container is gone, so its output reaches the log store. A deploy does
not wait for that: at its end it removes those whose grace is over and leaves the others, ended and
recorded, to the environment's next deploy (or `down`); `dockyard run` waits out the grace; the
jobs' loop removes them on a later pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from dockyard.deploy.executor import Workload, files_archive
from dockyard.engine import labels as L
from dockyard.engine.facts import ReplicaFacts, TaskRun
from dockyard.engine.interface import Engine
from dockyard.engine.secretfiles import remove_secret_files, write_secret_files
from dockyard.errors import EngineError
from dockyard.state.db import StateDB

__all__ = ["LOG_GRACE", "ContainerPlace", "Finished", "Place", "TaskContext", "create_one_off", "ended_long_enough",
           "remove_after_grace", "remove_one_off", "sweep_one_offs"]

LOG_GRACE = 2.0  # seconds an ended one-off is kept for the forwarder (it scans every 1 s)


def create_one_off(engine: Engine, workload: Workload, service: str, kind: str, command: list[str], name: str,
                   interactive: bool = False, environment: dict[str, str] | None = None) -> ReplicaFacts:
    """The container, made with its files in it, not started; `environment` adds to the service's."""
    base = workload.replicas[(service, 1)]
    spec = replace(base, task=kind, replica=0, command=list(command), port=None, host_port=None,
                   health_command=None, health_probe="", interactive=interactive,
                   environment={**base.environment, **(environment or {})})
    if workload.secret_files or workload.secret_bearing_files:
        directory, mounts = write_secret_files(workload.secret_files, spec.user, workload.secret_bearing_files)
        spec = replace(spec, secrets_dir=directory, file_mounts=mounts)
    engine.ensure_network(spec.app, spec.env)
    for volume, _, _ in spec.volumes:
        engine.ensure_volume(spec.app, spec.env, spec.service, volume)
    try:
        container = engine.create_replica(spec, name)
    except EngineError:
        remove_secret_files(spec.secrets_dir)
        raise
    try:
        if workload.files:
            engine.put_files(container.id, files_archive(workload.files), name)
    except EngineError:
        remove_one_off(engine, container)
        raise
    return container


def remove_one_off(engine: Engine, container: ReplicaFacts) -> None:
    """The container and its secret files."""
    try:
        engine.remove_replica(container.id, f"removing {container.name}")
    finally:
        remove_secret_files(container.labels.get(L.SECRETS_DIR))


class Place(Protocol):
    """Where a target runs one-offs of a release: containers on its engine, or one-task Swarm
    services. A one-off is seen as a ReplicaFacts (its id, name, labels, state, when it ended)."""

    def leftovers(self) -> list[ReplicaFacts]:
        """The environment's one-offs there now, running or ended."""
        ...

    def create(self, service: str, kind: str, command: list[str], name: str,
               environment: dict[str, str] | None = None) -> ReplicaFacts:
        """Made with `service`'s settings and the release's configuration and files (not yet run
        where the place can hold it back)."""
        ...

    def start(self, one: ReplicaFacts) -> None: ...

    def wait(self, one: ReplicaFacts, timeout: float, progress: Callable[[str], None] | None) -> TaskRun:
        """Until it ends (killed at `timeout`); its output passed on as it is written."""
        ...

    def remove(self, one: ReplicaFacts) -> None: ...


@dataclass(frozen=True)
class ContainerPlace:
    """One-offs as containers of the engine (the release's Workload makes them; none to list them)."""

    engine: Engine
    app: str
    env: str
    workload: Workload | None = None

    def leftovers(self) -> list[ReplicaFacts]:
        return self.engine.task_containers(self.app, self.env)

    def create(self, service: str, kind: str, command: list[str], name: str,
               environment: dict[str, str] | None = None) -> ReplicaFacts:
        assert self.workload is not None
        return create_one_off(self.engine, self.workload, service, kind, command, name, environment=environment)

    def start(self, one: ReplicaFacts) -> None:
        self.engine.start_replica(one.id, one.name)

    def wait(self, one: ReplicaFacts, timeout: float, progress: Callable[[str], None] | None) -> TaskRun:
        return self.engine.await_task(one.id, one.name, timeout, progress=progress)

    def remove(self, one: ReplicaFacts) -> None:
        remove_one_off(self.engine, one)


def ended_long_enough(container: ReplicaFacts, now: float | None = None) -> bool:
    """Whether an ended one-off may go: its grace for the forwarder is over (or it never ran)."""
    if container.running:
        return False
    return container.ended_at is None or (now or time.time()) - container.ended_at >= LOG_GRACE


def remove_after_grace(place: Place, one: ReplicaFacts) -> None:
    """An ended one-off of an earlier run, removed once its grace is over (a new one may take its name)."""
    if one.ended_at is not None:
        time.sleep(max(0.0, min(LOG_GRACE, one.ended_at + LOG_GRACE - time.time())))
    place.remove(one)


def sweep_one_offs(place: Place, app: str, env: str, db: StateDB) -> None:
    """Remove the environment's one-offs that ended, were recorded and had their grace: what an
    earlier deploy left for the forwarder (or a `dockyard run` cut short). A task a killed deploy
    left unrecorded stays for its collector (deploy/release_task.py, hooks.py, jobs/)."""
    for one in place.leftovers():
        if not ended_long_enough(one) or one.status == "created":
            continue
        run = db.task_of(app, env, one.name)
        if (run is None and one.labels.get(L.TASK) == "run") or (run is not None and run.ended):
            place.remove(one)


@dataclass
class Finished:
    """One-offs a deploy ran to their end: removed when it ends where their grace is over (the
    others by the environment's next deploy, which finds them ended and recorded)."""

    grace: float = LOG_GRACE  # (0 on a fake engine: no forwarder reads it)
    kept: list[tuple[Place, ReplicaFacts, float]] = field(default_factory=list)

    def keep(self, place: Place, one: ReplicaFacts) -> None:
        self.kept.append((place, one, time.monotonic()))

    def holds(self, one: ReplicaFacts) -> bool:
        return any(kept.id == one.id for _, kept, _ in self.kept)

    def remove_all(self) -> None:
        kept, self.kept = self.kept, []
        for place, one, ended in kept:
            if time.monotonic() - ended < self.grace:
                continue  # the forwarder may not have it yet: the next deploy removes it
            try:
                place.remove(one)
            except EngineError:
                pass  # gone already (a `down`), or the engine went away: the next deploy's leftovers


@dataclass(frozen=True)
class TaskContext:
    """What a deploy's release task and hooks are run with: the history they are kept in, whom they
    are recorded as, and where their ended containers wait for their removal."""

    db: StateDB
    author: str
    finished: Finished

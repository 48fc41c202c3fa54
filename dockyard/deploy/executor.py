"""Apply a deploy plan on an engine: start new replicas, wait for health, then retire the old.

Old containers keep serving until every new one is healthy; if any new one fails, every
container this deploy made is removed and the old ones keep their names: nothing is
half-applied. The strategy says how many replicas are replaced at a time (rolling: one, recreate:
all of them together).
"""

from __future__ import annotations

import io
import tarfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from dockyard.deploy.health import HealthCheck, HealthResult, Probe, wait_healthy
from dockyard.engine import labels as L
from dockyard.engine.containers import ReplicaSpec
from dockyard.engine.facts import ReplicaFacts
from dockyard.engine.interface import Engine, NameTaken, PortTaken
from dockyard.engine.secretfiles import remove_secret_files, write_secret_files
from dockyard.engine.start import PORT_TRIES, edge_ports, free_port
from dockyard.errors import DeployError, DockyardError, EngineError, HealthCheckFailed, RetireFailed
from dockyard.plan.deploy import Action, Kind, Observed

Report = Callable[[str], None]


@dataclass
class Workload:
    """Everything the executor needs to start any replica of this release."""

    replicas: dict[tuple[str, int], ReplicaSpec]
    health: dict[str, HealthCheck]
    files: dict[str, bytes] = field(default_factory=dict)
    secret_files: dict[str, str] = field(default_factory=dict)
    # rendered files that hold a secret: on tmpfs, bind-mounted read-only at their path
    secret_bearing_files: dict[str, bytes] = field(default_factory=dict)
    # ports a replica must not take: the app's blue-green balancers' (free until they first listen)
    reserved_ports: frozenset[int] = frozenset()


def files_archive(files: dict[str, bytes]) -> bytes:
    """A tar of the rendered config files, with their parent directories, for put_archive at /."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        seen: set[str] = set()
        for target, data in sorted(files.items()):
            parts = target.strip("/").split("/")
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if directory not in seen:
                    seen.add(directory)
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
            info = tarfile.TarInfo("/".join(parts))
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def last_logs(engine: Engine, container: ReplicaFacts, lines: int = 20) -> str:
    try:
        return engine.last_lines(container.id, lines).rstrip() or "(it wrote nothing)"
    except EngineError:
        return "(logs unavailable)"


class Executor:
    def __init__(self, engine: Engine, workload: Workload, batch: int | None, report: Report,
                 probe: Probe = wait_healthy, before_retire: Callable[[frozenset[str]], None] | None = None) -> None:
        self.engine = engine
        self.workload = workload
        self.batch = batch  # replaced at a time (the strategy's); None: all together
        self.report = report
        self.probe = probe  # the health probe: real HTTP/TCP on 127.0.0.1, or a test's own
        self.before_retire = before_retire  # told the ids about to stop, once their successors serve (the edge)
        self.started: list[ReplicaFacts] = []
        self.renamed: list[tuple[str, str]] = []  # (container id, the name it had)
        self._network_ready = threading.Lock()
        self._networks: set[tuple[str, str]] = set()
        self._volumes: set[tuple[str, str]] = set()  # (service, volume) made sure of in this deploy

    def apply(self, actions: list[Action]) -> None:
        # What serves nothing goes first: a stopped leftover of an interrupted deploy may hold the
        # name a new replica needs. Running ones retire only after their successors are healthy.
        dead = [a.container for a in actions if a.kind is Kind.REMOVE and a.container and not a.container.running]
        for container in dead:
            self._retire(container.id, container.name, container.service)
        creates = [a for a in actions if a.kind is Kind.CREATE]
        replaces = [a for a in actions if a.kind is Kind.REPLACE]
        batch = self.batch or max(len(replaces), 1)
        batches = [creates] + [replaces[i : i + batch] for i in range(0, len(replaces), batch)]
        try:
            for group in batches:
                if group:
                    self._start_and_check(group)
        except BaseException as failure:
            try:
                self._undo()
            except DockyardError as undo_failed:  # the engine went away: say both, keep the cause
                first, *rest = (failure.message if isinstance(failure, DockyardError) else str(failure)).split("\n", 1)
                raise DeployError("\n".join([f"{first}; then {undo_failed.message}", *rest]),
                                  hint="once the engine answers, deploy again: it removes what this one left "
                                       "and finishes the job") from failure
            raise
        retired = [a.container for a in replaces if a.container]
        retired += [a.container for a in actions if a.kind is Kind.REMOVE and a.container and a.container.running]
        if retired and self.before_retire is not None:
            self.before_retire(frozenset(c.id for c in retired))
        if retired:  # stopped together: each may take up to its stop grace to drain
            with ThreadPoolExecutor(max_workers=min(8, len(retired))) as pool:
                refused = [why for why in pool.map(self._retire_what_can_be, retired) if why]
            if refused:
                raise RetireFailed("the new replicas run and answer, but the old ones could not all be removed:\n"
                                   + "\n".join(refused), hint="deploy again: it removes what is left")

    def _retire_what_can_be(self, old: Observed) -> str | None:
        """Retire one old replica; why it could not be, else None."""
        try:
            self._retire(old.id, old.name, old.service)
        except DockyardError as exc:
            return f"{old.name}: {exc.message}"
        return None

    def _start_and_check(self, group: list[Action]) -> None:
        for action in group:
            if action.container is not None:
                self._move_aside(action.container.id, action.container.name, action.service, action.replica)
        # Replicas of a batch start together: the engine creates containers in parallel well,
        # and the batch's wall time is then one start plus one health check.
        with ThreadPoolExecutor(max_workers=min(8, len(group))) as pool:
            started = list(pool.map(lambda a: self._start(a.service, a.replica), group))
            fresh = list(zip(group, started, strict=True))
            results = list(pool.map(lambda item: self._wait(item[0].service, item[1]), fresh))
        failed = [(c, r) for (_, c), r in zip(fresh, results, strict=True) if not r.healthy]
        if failed:
            container, result = failed[0]
            raise HealthCheckFailed(
                f"{container.name} did not become healthy: {result.reason}\n"
                f"--- last log lines of {container.name} ---\n{last_logs(self.engine, container)}",
                hint="the previous release is still running; fix the release and deploy again",
            )
        for (action, container), result in zip(fresh, results, strict=True):
            self.report(f"{container.name} healthy in {result.seconds:.1f}s ({action.reason})")

    def _start(self, service: str, replica: int) -> ReplicaFacts:
        spec = self.workload.replicas[(service, replica)]
        if self.workload.secret_files or self.workload.secret_bearing_files:
            directory, mounts = write_secret_files(self.workload.secret_files, spec.user,
                                                   self.workload.secret_bearing_files)
            spec = replace(spec, secrets_dir=directory, file_mounts=mounts)
        name = self._name(spec)
        with self._network_ready:  # once per deploy: replicas start in parallel threads
            if (spec.app, spec.env) not in self._networks:
                self.engine.ensure_network(spec.app, spec.env)
                self._networks.add((spec.app, spec.env))
            for volume, _, _ in spec.volumes:  # made labelled before a container would make it bare
                if (spec.service, volume) not in self._volumes:
                    self.engine.ensure_volume(spec.app, spec.env, spec.service, volume)
                    self._volumes.add((spec.service, volume))
        # On this host the replica gets a port of its own choosing, kept across engine restarts;
        # one taken between the choice and the start is chosen again.
        own_port = bool(spec.port) and self.engine.is_local_host
        for attempt in range(1, PORT_TRIES + 1):
            if own_port:
                spec = replace(spec, host_port=free_port(edge_ports() | self.workload.reserved_ports))
            container = self._create(spec, name)
            try:
                if self.workload.files:
                    self.engine.put_files(container.id, files_archive(self.workload.files), name)
                self._start_on_a_port(container, own_port)
                break
            except PortTaken:
                if not (own_port and attempt < PORT_TRIES):
                    raise
                self._discard(container)
        self.report(f"started {name}")
        return container

    def _start_on_a_port(self, container: ReplicaFacts, own_port: bool) -> None:
        """Start it. On a remote engine a published port the engine picked may be taken by something
        it does not know: starting again makes it pick the next one."""
        for attempt in range(1, PORT_TRIES + 1):
            try:
                self.engine.start_replica(container.id, container.name)
                return
            except PortTaken:
                if own_port or attempt == PORT_TRIES:
                    raise

    def _create(self, spec: ReplicaSpec, name: str) -> ReplicaFacts:
        try:
            container = self.engine.create_replica(spec, name)
        except EngineError as exc:
            remove_secret_files(spec.secrets_dir)
            if isinstance(exc, NameTaken) and not self._made_by_us(name):
                raise DeployError(f"creating {name}: a container Dockyard did not make (it has no Dockyard labels) "
                                  "holds the name", hint=f"remove or rename it: docker rename {name} "
                                                         f"{name}-by-hand") from exc
            raise
        self.started.append(container)
        return container

    def _made_by_us(self, name: str) -> bool:
        try:
            holder = self.engine.inspect_replica(name)
        except EngineError:
            return True  # the engine cannot say: its own message is the best
        return holder is None or L.MANAGED in holder.labels  # gone meanwhile: the engine's message says it

    def _discard(self, container: ReplicaFacts) -> None:
        """A container that could not take its port: removed, its secret files kept for the next try."""
        self.engine.remove_replica(container.id, f"removing {container.name} to start it on another port")
        self.started.remove(container)

    def _name(self, spec: ReplicaSpec) -> str:
        return L.container_name(spec.app, spec.env, spec.service, spec.replica)

    def _wait(self, service: str, container: ReplicaFacts) -> HealthResult:
        spec = next(s for s in self.workload.replicas.values() if s.service == service)
        return self.probe(self.engine, container, spec.port, replace(self.workload.health[service], report=self.report))

    def _move_aside(self, container_id: str, name: str, service: str, replica: int) -> None:
        """Free the replica's name for its successor; the old one keeps running meanwhile. One an
        interrupted deploy moved aside already keeps its name."""
        aside = f"{self._name(self.workload.replicas[(service, replica)])}-old-{container_id[:8]}"
        if name == aside:
            return
        self.engine.rename_replica(container_id, aside, f"renaming {name} to {aside}")
        self.renamed.append((container_id, name))

    def _retire(self, container_id: str, name: str, service: str) -> None:
        grace = next((s.stop_grace for s in self.workload.replicas.values() if s.service == service), 10.0)
        if self.engine.stop_and_remove(container_id, name, grace):
            self.report(f"removed {name}")

    def _undo(self) -> None:
        """Remove what this deploy started and give the old containers their names back."""
        for container in self.started:
            try:
                self.engine.remove_replica(container.id, f"removing {container.name}")
            except EngineError:
                continue
            remove_secret_files(container.labels.get(L.SECRETS_DIR))
            self.report(f"removed {container.name} (failed deploy)")
        failed: list[DockyardError] = []
        for container_id, name in self.renamed:
            try:
                self.engine.rename_replica(container_id, name, f"giving {name} its name back")
            except EngineError as exc:
                failed.append(exc)
        if failed:
            raise failed[0]

"""A fake Docker engine for unit tests of the orchestration: engine/interface.Engine's verbs on
containers and on a one-node Swarm, in memory. Every change is one line in `actions`, in order
(the way plan/ is tested by equality), and any change can be made to fail or to kill the deploy.

Faults, for the strategies' tests:
- `fail_at = k`: the k-th change raises an EngineError (the engine refused it); the deploy undoes.
- `kill_at = k`: at the k-th change the process dies: that change and every later call raises
  Killed, which no `except Exception` stops, so nothing more is changed, as after a SIGKILL.
  `revive()` is the next process, which resumes.
The balancer and the edge fakes below count their changes in the same sequence.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dockyard.engine import labels as L
from dockyard.engine.accessories import AccessoryRun, accessory_labels
from dockyard.engine.containers import ReplicaSpec, network_name, replica_labels
from dockyard.engine.facts import AccessoryState, Binding, ContainerEvent, ImageFacts, ReplicaFacts, TaskRun, TestResult
from dockyard.engine.interface import Engine, NameTaken, PortTaken
from dockyard.engine.observation import observation
from dockyard.engine.rows import Running
from dockyard.engine.swarm_facts import NodeFact, ServiceFact, TaskFact, parse_service
from dockyard.engine.swarm_spec import body_name
from dockyard.errors import EngineError, EngineUnavailable, RegistryError
from dockyard.router.edge import EdgeConflict, Where
from dockyard.router.edge_render import EdgeRoute, claim_conflicts
from dockyard.router.render import RouterState, Side
from dockyard.settings import EngineSettings
from dockyard.spec.model import TestSpec

NODE = "node1"


class Killed(BaseException):  # noqa: N818 - it is what happened, not an error
    """The deploy's process died here."""


@dataclass
class FakeContainer:
    id: str
    name: str
    labels: dict[str, str]
    image: str = ""
    status: str = "created"
    port: int | None = None  # the container port it publishes
    wanted_port: int | None = None  # the host port asked for; None: the engine picks
    bound: int | None = None  # the host port it answers on while it runs
    started_at: str = ""

    def facts(self) -> ReplicaFacts:
        running = self.status == "running"
        bindings = (Binding(self.port, "tcp", "127.0.0.1", self.bound),) if running and self.port and self.bound \
            else ()
        return ReplicaFacts(id=self.id, name=self.name, labels=dict(self.labels), status=self.status, running=running,
                            exit_code=None if running or self.status == "created" else 0, started_at=self.started_at,
                            bindings=bindings, asks_ports=self.port is not None, image=self.image)


@dataclass
class FakeService:
    id: str
    body: dict[str, Any]
    version: int = 1
    previous: dict[str, Any] | None = None
    update_state: str | None = None

    def fact(self) -> ServiceFact:
        attrs = {"ID": self.id, "Spec": self.body, "Version": {"Index": self.version}, "PreviousSpec": self.previous,
                 "UpdateStatus": {"State": self.update_state} if self.update_state else None}
        return parse_service(attrs)


@dataclass
class FakeEngine:
    """engine/interface.Engine in memory: containers, or (swarm=True) a one-node Swarm's services."""

    swarm: bool = False
    name: str = "fake"
    actions: list[str] = field(default_factory=list)
    fail_start: set[str] = field(default_factory=set)  # container names whose start fails
    # a task container's name, or a release (its every task) -> the exit code (else 0)
    task_exits: dict[str, int] = field(default_factory=dict)
    task_hangs: set[str] = field(default_factory=set)  # releases whose task runs past its timeout
    fail_releases: set[str] = field(default_factory=set)  # releases whose Swarm tasks fail (and, in
    # tests/fakes/deploys.Site, whose containers never answer their probe)
    failing_tests: set[str] = field(default_factory=set)  # test names that fail
    taken_ports: set[int | None] = field(default_factory=set)  # host ports another program listens on
    down: bool = False  # dockerd went away: every call fails as it does then
    fail_at: int | None = None
    kill_at: int | None = None
    containers: dict[str, FakeContainer] = field(default_factory=dict)
    images: dict[str, ImageFacts] = field(default_factory=dict)
    networks: set[str] = field(default_factory=set)
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> labels
    services_by_id: dict[str, FakeService] = field(default_factory=dict)
    task_list: list[TaskFact] = field(default_factory=list)
    files: dict[tuple[str, str], tuple[str, dict[str, str]]] = field(default_factory=dict)  # (kind, id) -> ...
    node_labels: dict[str, str] = field(default_factory=dict)
    steps: int = 0
    dead: bool = False
    config: EngineSettings = field(init=False)

    def __post_init__(self) -> None:
        self.config = EngineSettings(host="unix:///fake.sock", swarm=self.swarm)
        self._ids = (f"{n:064x}" for n in itertools.count(1))
        self._ports = itertools.count(32768)
        self._clock = itertools.count(0)

    # -- the faults -------------------------------------------------------------------------------
    def look(self, what: str = "asking the engine") -> None:
        """Every call: refused when dockerd is down, impossible once the process died."""
        if self.dead:
            raise Killed()
        if self.down:
            raise EngineUnavailable(f"{what}: the engine stopped answering: connection refused")

    def step(self, action: str) -> None:
        """One change: counted, failed or killed as asked, else logged."""
        self.look(action)
        self.steps += 1
        if self.steps == self.kill_at:
            self.dead = True
            raise Killed()
        if self.steps == self.fail_at:
            raise EngineError(f"{action}: refused (fault injected at step {self.steps})")
        self.actions.append(action)

    def revive(self) -> None:
        """The next process: the engine as the dead one left it."""
        self.dead, self.kill_at, self.fail_at = False, None, None

    # -- test helpers ------------------------------------------------------------------------------
    def add_image(self, ref: str, image_id: str, user: str = "65534:65534") -> None:
        self.images[ref] = ImageFacts(id=image_id, user=user)

    def container(self, name: str) -> FakeContainer:
        return next(c for c in self.containers.values() if c.name == name)

    def plant(self, name: str, labels: dict[str, str], status: str = "created") -> FakeContainer:
        """A container made outside the deploy (by hand, or by one that was interrupted)."""
        found = FakeContainer(next(self._ids), name, dict(labels), status=status)
        self.containers[found.id] = found
        return found

    def _get(self, container_id: str, what: str) -> FakeContainer:
        self.look(what)
        found = self._find(container_id)
        if found is None:
            raise EngineError(f"{what}: No such container: {container_id[:12]}")
        return found

    # -- containers ---------------------------------------------------------------------------------
    @property
    def is_local_host(self) -> bool:
        return self.config.host.startswith("unix://")

    def close(self) -> None:
        pass

    def create_replica(self, spec: ReplicaSpec, name: str) -> ReplicaFacts:
        self.look()
        if any(c.name == name for c in self.containers.values()):
            raise NameTaken(f'creating {name}: Conflict. The container name "/{name}" is already in use')
        self.step(f"create {name}")
        made = FakeContainer(next(self._ids), name, replica_labels(spec), image=spec.image, port=spec.port,
                             wanted_port=spec.host_port)
        self.containers[made.id] = made
        return made.facts()

    def put_files(self, container_id: str, archive: bytes, name: str) -> None:
        self._get(container_id, f"copying files into {name}")
        self.step(f"put_archive {name}")

    def start_replica(self, container_id: str, name: str) -> None:
        found = self._get(container_id, f"starting {name}")
        if name in self.fail_start:
            raise EngineError(f"starting {name}: cannot start {name}")
        if found.wanted_port is not None and found.wanted_port in self.taken_ports:
            raise PortTaken(f"starting {name}: listen tcp4 127.0.0.1:{found.wanted_port}: bind: address already in use")
        self.step(f"start {name}")
        self._run(found)

    def _run(self, found: FakeContainer) -> None:
        if found.port:
            found.bound = found.wanted_port or found.bound or next(self._ports)
        found.status, found.started_at = "running", f"2026-11-29T10:00:{next(self._clock) % 60:02d}Z"

    def remove_replica(self, container_id: str, what: str) -> None:
        found = self._get(container_id, what)
        self.step(f"remove {found.name}")
        del self.containers[found.id]

    def rename_replica(self, container_id: str, name: str, what: str) -> None:
        found = self._get(container_id, what)
        if any(c.name == name for c in self.containers.values() if c is not found):
            raise EngineError(f"{what}: Conflict. The container name \"/{name}\" is already in use")
        self.step(f"rename {found.name} -> {name}")
        found.name = name

    def last_lines(self, container_id: str, lines: int = 20) -> str:
        self.look()
        return ""

    def stop_and_remove(self, container_id: str, name: str, grace: float) -> bool:
        self.look()
        found = self.containers.get(container_id)
        if found is None:
            return False
        self.step(f"stop {found.name}")
        found.status, found.bound = "exited", None
        self.step(f"remove {found.name}")
        del self.containers[container_id]
        return True

    def stop_replica(self, container_id: str, name: str, grace: float) -> None:
        found = self._get(container_id, f"stopping {name}")
        self.step(f"stop {found.name}")
        found.status, found.bound = "exited", None

    def start_again(self, container_id: str, name: str) -> ReplicaFacts:
        found = self._get(container_id, f"starting {name}")
        self.step(f"start {found.name}")
        self._run(found)
        return found.facts()

    def list_replicas(self, app: str | None = None, env: str | None = None, service: str | None = None,
                      all: bool = True, detail: bool = True) -> list[ReplicaFacts]:
        self.look()
        wanted = {L.APP: app, L.ENV: env, L.SERVICE: service}
        return [c.facts() for c in self.containers.values() if L.MANAGED in c.labels and L.ACCESSORY not in c.labels
                and all_labels(c.labels, wanted) and (all or c.status == "running")]

    def running_replicas(self, selector: Mapping[str, str]) -> list[ReplicaFacts]:
        self.look()
        return [c.facts() for c in self.containers.values() if c.status == "running"
                and all(k in c.labels and (not v or c.labels[k] == v) for k, v in selector.items())]

    def inspect_replica(self, container_id: str) -> ReplicaFacts | None:
        self.look()
        found = self._find(container_id)
        return found.facts() if found else None

    def _find(self, id_or_name: str) -> FakeContainer | None:
        return self.containers.get(id_or_name) or next((c for c in self.containers.values() if c.name == id_or_name),
                                                       None)

    def container_events(self, since: int) -> NoEvents:
        self.look()
        return NoEvents()

    def container_lines(self, container_id: str, tail: int, since: float | None = None) -> list[tuple[str, str, str]]:
        self.look()
        return []

    def observe(self, app: str | None, env: str | None = None) -> list[Running]:
        return observation(self, app, env)

    # -- images ---------------------------------------------------------------------------------------
    def inspect_image(self, ref: str) -> ImageFacts | None:
        self.look()
        return self.images.get(ref)

    def ensure_image(self, ref: str) -> ImageFacts:
        found = self.inspect_image(ref)
        if found is None:
            raise RegistryError(f"engine {self.name!r} cannot pull {ref}: not found",
                                hint="was it built and pushed? dockyard build")
        return found

    def pull_image(self, ref: str) -> ImageFacts:
        return self.ensure_image(ref)

    def tag_image(self, source: str, repo: str, tag: str) -> None:
        self.step(f"tag {source} {repo}:{tag}")
        self.images[f"{repo}:{tag}"] = self.ensure_image(source)

    def build_image(self, context: Path, dockerfile: str, tag: str, labels: Mapping[str, str],
                    args: Mapping[str, str], progress: Callable[[str], None]) -> str:
        self.step(f"build {tag}")
        image_id = f"sha256:{len(self.images) + 1:064x}"
        self.images[tag] = ImageFacts(id=image_id, labels=dict(labels))
        progress(f"Successfully built {image_id[7:19]}")
        return image_id

    def push_image(self, source: str, repo: str, tag: str, progress: Callable[[str], None]) -> str:
        self.tag_image(source, repo, tag)
        self.step(f"push {repo}:{tag}")
        return "sha256:" + self.ensure_image(source).id.removeprefix("sha256:")

    # -- networks and volumes --------------------------------------------------------------------------
    def ensure_network(self, app: str, env: str) -> str:
        name = network_name(app, env)
        self.look()
        if name not in self.networks:
            self.step(f"network create {name}")
            self.networks.add(name)
        return name

    def remove_network(self, app: str, env: str) -> bool:
        name = network_name(app, env)
        self.look()
        if name not in self.networks:
            return False
        self.step(f"network remove {name}")
        self.networks.discard(name)
        return True

    def ensure_volume(self, app: str, env: str, service: str, name: str) -> str:
        full = L.volume_name(app, env, service, name)
        self.look()
        if full not in self.volumes:
            self.step(f"volume create {full}")
            self.volumes[full] = {L.MANAGED: "1", L.APP: app, L.ENV: env, L.SERVICE: service, L.VOLUME: name}
        return full

    def app_volumes(self, app: str, env: str) -> list[str]:
        self.look()
        return sorted(n for n, labels in self.volumes.items() if all_labels(labels, {L.APP: app, L.ENV: env}))

    def remove_volume(self, name: str, wait: float = 0.0) -> None:
        self.look()
        if name in self.volumes:
            self.step(f"volume remove {name}")
            del self.volumes[name]

    # -- accessories, tests ------------------------------------------------------------------------------
    def find_accessory(self, app: str, env: str, name: str) -> AccessoryState | None:
        self.look()
        container_name = L.accessory_container_name(app, env, name)
        found = next((c for c in self.containers.values() if c.name == container_name), None)
        return accessory_row(found) if found else None

    def list_accessories(self, app: str, env: str | None = None) -> list[AccessoryState]:
        self.look()
        return sorted((accessory_row(c) for c in self.containers.values()
                       if L.ACCESSORY in c.labels and all_labels(c.labels, {L.APP: app, L.ENV: env})),
                      key=lambda a: (a.env, a.name))

    def start_accessory(self, run: AccessoryRun) -> str:
        self.step(f"create {run.container}")
        made = FakeContainer(next(self._ids), run.container,
                             {**accessory_labels(run.app, run.env, run.name), L.CONFIG_HASH: run.config_hash},
                             image=run.image, port=run.port)
        self.containers[made.id] = made
        self.step(f"start {run.container}")
        self._run(made)
        return made.id

    def wait_accessory(self, container_id: str, what: str, timeout: float, logs_hint: str) -> AccessoryState:
        return accessory_row(self._get(container_id, f"inspecting {what}"))

    def accessory_logs(self, container_id: str, name: str, tail: int, follow: bool) -> Iterator[bytes]:
        self._get(container_id, f"reading the output of {name}")
        return iter(())

    def run_test(self, test: TestSpec, image: str, app: str, env: str, target_url: str | None = None,
                 extra_env: dict[str, str] | None = None, progress: Callable[[str], None] | None = None
                 ) -> TestResult:
        self.step(f"test {test.name}" + (f" -> {target_url}" if target_url else ""))
        passed = test.name not in self.failing_tests
        if progress is not None and not passed:
            progress("assertion failed")
        return TestResult(test.name, passed, 0 if passed else 1, "" if passed else "assertion failed", 0.01)

    def await_task(self, container_id: str, name: str, timeout: float,
                   progress: Callable[[str], None] | None = None) -> TaskRun:
        found = self._get(container_id, f"running {name}")
        found.status = "exited"
        return self._task_end(name, found.labels.get(L.RELEASE, ""), timeout, progress)

    def _task_end(self, name: str, release: str, timeout: float, progress: Callable[[str], None] | None) -> TaskRun:
        """How a one-off ends here: `task_exits` (by its name, else its release), or `task_hangs`."""
        self.step(f"await {name}")
        if release in self.task_hangs:
            return TaskRun(None, "still migrating", timeout, timed_out=True)
        code = self.task_exits.get(name, self.task_exits.get(release, 0))
        if progress is not None:
            progress(f"task of {release}: exit {code}")
        return TaskRun(code, f"task of {release}: exit {code}", 0.01)

    def task_containers(self, app: str, env: str) -> list[ReplicaFacts]:
        self.look()
        return [c.facts() for c in self.containers.values() if L.TASK in c.labels
                and c.labels.get(L.APP) == app and c.labels.get(L.ENV) == env]

    def await_service_task(self, service_id: str, name: str, timeout: float,
                           progress: Callable[[str], None] | None = None) -> TaskRun:
        found = self._service(service_id)
        found.update_state = "ended"
        return self._task_end(name, found.body["Labels"].get(L.RELEASE, ""), timeout, progress)

    def task_services(self, app: str, env: str) -> list[ReplicaFacts]:
        self.look()
        return [ReplicaFacts(id=s.id, name=body_name(s.body), labels=dict(s.body["Labels"]),
                             status="exited" if s.update_state == "ended" else "running",
                             running=s.update_state != "ended")
                for s in self.services_by_id.values() if L.TASK in s.body["Labels"]
                and s.body["Labels"].get(L.APP) == app and s.body["Labels"].get(L.ENV) == env]

    # -- the Swarm --------------------------------------------------------------------------------------
    def require_manager(self) -> None:
        self.look()
        if not self.swarm:
            raise EngineError(f"engine {self.name!r} is not a Swarm manager (swarm: inactive)")

    def create_service(self, body: dict[str, Any]) -> str:
        self.step(f"service create {body_name(body)}")
        made = FakeService(next(self._ids)[-25:], body)
        self.services_by_id[made.id] = made
        self._converge(made)
        return made.id

    def update_service(self, service_id: str, version: int, body: dict[str, Any]) -> None:
        found = self._service(service_id)
        if version != found.version:
            raise EngineError(f"updating service {body_name(body)}: update out of sequence")
        self.step(f"service update {body_name(body)}")
        found.previous, found.body, found.version, found.update_state = found.body, body, found.version + 1, "updating"
        self._converge(found)

    def inspect_service(self, service_id: str) -> ServiceFact:
        return self._service(service_id).fact()

    def remove_service(self, service_id: str, name: str) -> None:
        self._service(service_id)
        self.step(f"service remove {name}")
        del self.services_by_id[service_id]
        self.task_list = [t for t in self.task_list if t.service_id != service_id]

    def roll_back_service(self, service_id: str, wait: float) -> None:
        found = self._service(service_id)
        if found.previous is None:
            raise EngineError(f"rolling back service {service_id[:12]}: service has no previous spec")
        self.step(f"service rollback {body_name(found.body)}")
        found.body, found.previous, found.version = found.previous, found.body, found.version + 1
        self._converge(found)
        found.update_state = "rollback_completed"

    def scale_service(self, service_id: str, replicas: int, labels: dict[str, str | None] | None = None
                      ) -> dict[str, Any]:
        found = self._service(service_id)
        body = {**found.body, "Mode": {"Replicated": {"Replicas": replicas}},
                "Labels": {k: v for k, v in {**found.body["Labels"], **(labels or {})}.items() if v is not None}}
        self.step(f"service scale {body_name(body)} {replicas}")
        found.previous, found.body, found.version = found.body, body, found.version + 1
        self._converge(found)
        return body

    def remove_services(self, app: str, env: str) -> list[str]:
        names = []
        for service in self.services(app, env):
            self.remove_service(service.id, service.name)
            names.append(service.name)
        for kind in ("config", "secret"):
            for object_id in self.swarm_files(kind, app, env).values():
                self.remove_swarm_file(kind, object_id)
        return names

    def services(self, app: str | None, env: str | None = None) -> list[ServiceFact]:
        self.look()
        return [f for s in self.services_by_id.values() if (f := s.fact()).app and app in (None, f.app)
                and env in (None, f.env) and L.MANAGED in s.body["Labels"]]

    def tasks(self, service_ids: list[str]) -> list[TaskFact]:
        self.look()
        return [t for t in self.task_list if t.service_id in service_ids]

    def running_tasks(self) -> list[TaskFact]:
        self.look()
        return [t for t in self.task_list if t.desired == "running"]

    def nodes(self) -> dict[str, NodeFact]:
        self.look()
        return {NODE: NodeFact(id=NODE, hostname="fake-node", role="manager", availability="active", state="ready",
                               addr="127.0.0.1", publish_addr="127.0.0.1", nano_cpus=2_000_000_000,
                               memory_bytes=8 << 30, leader=True, labels=dict(self.node_labels))}

    def pin_node(self, label: str) -> str:
        self.look()
        if self.node_labels.get(label) != "true":
            self.step(f"node label {label}")
            self.node_labels[label] = "true"
        return "fake-node"

    def unpin_nodes(self, prefix: str) -> list[str]:
        self.look()
        gone = [k for k in self.node_labels if k.startswith(prefix)]
        for key in gone:
            self.step(f"node unlabel {key}")
            del self.node_labels[key]
        return ["fake-node"] if gone else []

    def swarm_files(self, kind: str, app: str, env: str) -> dict[str, str]:
        self.look()
        return {name: object_id for (k, object_id), (name, labels) in self.files.items()
                if k == kind and all_labels(labels, {L.APP: app, L.ENV: env})}

    def make_swarm_file(self, kind: str, name: str, data: bytes, labels: dict[str, str], what: str) -> str:
        self.step(f"{kind} create {name}")
        object_id = next(self._ids)[-25:]
        self.files[(kind, object_id)] = (name, dict(labels))
        return object_id

    def remove_swarm_file(self, kind: str, object_id: str) -> bool:
        self.look()
        name = self.files[(kind, object_id)][0]
        if any(name in s.fact().refs for s in self.services_by_id.values()):
            return False
        self.step(f"{kind} remove {name}")
        del self.files[(kind, object_id)]
        return True

    def service_log_frames(self, service_id: str, since_ns: int | None, tail: int | str, follow: bool
                           ) -> Iterator[tuple[int, bytes]]:
        self._service(service_id)
        return iter(())

    def task_logs(self, task_id: str, lines: int) -> str:
        self.look()
        return "exec format error"

    def service_names(self) -> dict[str, str]:
        self.look()
        return {s.id: s.fact().name for s in self.services_by_id.values()}

    def _service(self, service_id: str) -> FakeService:
        self.look()
        found = self.services_by_id.get(service_id)
        if found is None:
            raise EngineError(f"service {service_id[:12]} not found")
        return found

    def _converge(self, service: FakeService) -> None:
        """What Swarm does at once here: the old tasks shut down, the spec's replicas run (or fail)."""
        fact = service.fact()
        self.task_list = [replace(t, desired="shutdown", state="shutdown") if t.service_id == service.id else t
                          for t in self.task_list]
        failing = fact.release in self.fail_releases
        for slot in range(1, (3 if failing else fact.replicas) + 1):
            task_id = next(self._ids)[-25:]
            self.task_list.append(TaskFact(
                id=task_id, service_id=service.id, slot=slot, node_id=NODE,
                state="failed" if failing else "running", desired="shutdown" if failing else "running",
                config_hash=fact.config_hash, release=fact.release,
                error="task: non-zero exit (1)" if failing else "", container_id="c" + task_id,
                published={fact.port: next(self._ports)} if fact.port and not failing else {},
                created=f"2026-11-29T10:{next(self._clock) % 60:02d}:00Z"))
        service.update_state = None if service.update_state is None or failing else "completed"

    # -- the host -----------------------------------------------------------------------------------
    def version(self) -> str | None:
        self.look()
        return "20.10.24"

    def cgroup_driver(self) -> str:
        return "cgroupfs"

    def containers_root(self) -> str:
        return "/var/lib/docker/containers"

    def node_id(self) -> str | None:
        self.look()
        return NODE if self.swarm else None


def as_engine(fake: FakeEngine) -> Engine:
    """Where mypy checks that the fake has every verb of the interface, with its signature."""
    return fake


class NoEvents:
    def __iter__(self) -> Iterator[ContainerEvent]:
        return iter(())

    def close(self) -> None:
        pass


def all_labels(labels: Mapping[str, str], wanted: Mapping[str, str | None]) -> bool:
    return all(value is None or labels.get(key) == value for key, value in wanted.items())


def accessory_row(found: FakeContainer) -> AccessoryState:
    labels = found.labels
    return AccessoryState(app=labels.get(L.APP, ""), env=labels.get(L.ENV, ""), name=labels.get(L.ACCESSORY, ""),
                          container=found.name, id=found.id, state=found.status,
                          health="healthy" if found.status == "running" else "none", image=found.image,
                          config_hash=labels.get(L.CONFIG_HASH, ""), restarts=0, started_at=found.started_at)


class FakeRouter:
    """The balancer of one environment (router/nginx.NginxRouter's surface): each new state is a
    change of the engine's sequence, so a test sees the exact interleaving of container actions
    and traffic switches, and a fault can hit a switch too."""

    def __init__(self, engine: FakeEngine, state: RouterState | None = None) -> None:
        self.engine = engine
        self.state = state
        self.running = state is not None

    def current(self) -> RouterState | None:
        return self.state

    def pid(self) -> int | None:
        return 4242 if self.running else None

    def apply(self, state: RouterState, wait: float = 5.0) -> float:
        def name(side: Side | None) -> str:
            return f"{side.color}({side.release}, {len(side.servers)})" if side else "-"

        self.engine.step(f"route live={name(state.live)} preview={name(state.preview)}")
        self.state, self.running = state, True
        return 0.001

    def wait_drained(self, timeout: float) -> bool:
        self.engine.step("drained")
        return True

    def remove(self, timeout: float = 10.0) -> bool:
        if self.state is None:
            return False
        self.engine.step("balancer removed")
        self.state, self.running = None, False
        return True


class FakeEdge:
    """The host's edge (router/edge.Edge's surface), keeping routes in memory with the real claim
    rule; each change is a change of the engine's sequence."""

    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine
        self.routes: dict[tuple[str, str], EdgeRoute] = {}

    def check(self, route: EdgeRoute, where: Where) -> None:
        conflicts = claim_conflicts(route, list(self.routes.values()))
        if conflicts:
            raise EdgeConflict("\n".join(f"{where(c.name)}: {c} is already served by {o.app}/{o.env} on this "
                                         "host's edge" for c, o in conflicts))

    def publish(self, route: EdgeRoute, where: Where) -> bool:
        self.check(route, where)
        if self.routes.get((route.app, route.env)) == route:
            return False
        self.engine.step(f"edge {','.join(route.domains)} -> {','.join(route.servers) or '-'}")
        self.routes[(route.app, route.env)] = route
        return True

    def withdraw(self, app: str, env: str) -> bool:
        if (app, env) not in self.routes:
            return False
        self.engine.step(f"edge withdraw {app}/{env}")
        del self.routes[(app, env)]
        return True

    def forget_certificates(self, app: str, env: str) -> bool:
        return False  # the fake issues none

    def wait_drained(self, timeout: float) -> bool:
        self.engine.step("edge drained")
        return True

    def weigh_canary(self, app: str, env: str, weight: int) -> bool:
        route = self.routes.get((app, env))
        if route is None or route.split is None:
            return False
        self.engine.step(f"edge canary {app}/{env} {weight}%")
        if weight >= 0:
            self.routes[(app, env)] = replace(route, canary=replace(route.split, weight=weight))
        return True

    def route(self, app: str, env: str) -> EdgeRoute | None:
        return self.routes.get((app, env))

    def secure(self, route: EdgeRoute) -> tuple[EdgeRoute, str | None]:
        return route, None

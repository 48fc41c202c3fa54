"""One Docker engine in Dockyard's words: `Engine`'s verbs, which return engine/facts.py's (and
swarm_facts') dataclasses and raise EngineError, and `connect`, which makes one by its site name
(`local`, `tls-host`, ...).

The one place docker-py clients are made, so connection errors become EngineUnavailable with the
engine's name and what to check, never a traceback. Each verb loads the engine module that holds
its docker-py calls when it runs (DEFERRED in tests/unit/test_layers.py): a read-only command does
not import a deploy's writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from dockyard import settings
from dockyard.engine.failures import engine_error, short_reason
from dockyard.engine.wire import API_VERSION, Wire, WireError, WireRefused
from dockyard.errors import EngineError, EngineUnavailable, RegistryError
from dockyard.settings import EngineSettings

if TYPE_CHECKING:
    import docker.tls

    from dockyard.engine.accessories import AccessoryRun
    from dockyard.engine.containers import ReplicaSpec
    from dockyard.engine.facts import AccessoryState, EventStream, ImageFacts, ReplicaFacts, TaskRun, TestResult
    from dockyard.engine.rows import Running
    from dockyard.engine.swarm_facts import NodeFact, ServiceFact, TaskFact
    from dockyard.spec.model import TestSpec

__all__ = ["API_VERSION", "DockerEngine", "connect", "tls_config"]

T = TypeVar("T")


class DockerEngine:
    """The real Engine (engine/interface.py): Dockyard's verbs, whose contracts are written there.
    Reads that `ps`, `status` and `logs` make go through `wire` (engine/wire.py); every other verb
    through docker-py's `client`, made on the first of them."""

    def __init__(self, name: str, config: EngineSettings, client: Any = None, timeout: int = 60) -> None:
        self.name, self.config, self.timeout = name, config, timeout
        self.wire = Wire(config, timeout)
        self._client = client

    @property
    def client(self) -> Any:
        """docker-py's client of this engine (docker.DockerClient)."""
        if self._client is None:
            self._client = docker_client(self.name, self.config, self.timeout)
        return self._client

    @property
    def is_local_host(self) -> bool:
        url = urlparse(self.config.host)
        return url.scheme in ("unix", "npipe") or url.hostname in ("127.0.0.1", "localhost", "::1")

    def close(self) -> None:
        self.wire.close()
        if self._client is not None:
            self._client.close()

    # Dockyard's verbs. The layers above call these and read engine/facts.py's dataclasses; only
    # engine/ touches `client` (docker-py) and Docker's JSON (tests/unit/test_layers.py).

    # -- replicas, images and services: what a deploy does ----------------------------------------
    def create_replica(self, spec: ReplicaSpec, name: str) -> ReplicaFacts:
        from dockyard.engine import lifecycle
        return self._asking(f"creating {name}", lifecycle.create, spec, name)

    def put_files(self, container_id: str, archive: bytes, name: str) -> None:
        from dockyard.engine import lifecycle
        self._asking(f"copying files into {name}", lifecycle.put_archive, container_id, archive)

    def start_replica(self, container_id: str, name: str) -> None:
        from dockyard.engine import lifecycle
        self._asking(f"starting {name}", lifecycle.start, container_id, name)

    def remove_replica(self, container_id: str, what: str) -> None:
        from dockyard.engine import lifecycle
        self._asking(what, lifecycle.remove, container_id)

    def rename_replica(self, container_id: str, name: str, what: str) -> None:
        from dockyard.engine import lifecycle
        self._asking(what, lifecycle.rename, container_id, name)

    def last_lines(self, container_id: str, lines: int = 20) -> str:
        from dockyard.engine import lifecycle
        return self._asking("reading its logs", lifecycle.last_lines, container_id, lines)

    def create_service(self, body: dict[str, Any]) -> str:
        from dockyard.engine import swarm_writes
        from dockyard.engine.swarm_spec import body_name
        return self._asking(f"creating service {body_name(body)}", swarm_writes.create, body)

    def update_service(self, service_id: str, version: int, body: dict[str, Any]) -> None:
        from dockyard.engine import swarm_writes
        from dockyard.engine.swarm_spec import body_name
        self._asking(f"updating service {body_name(body)}", swarm_writes.update, service_id, version, body)

    def inspect_service(self, service_id: str) -> ServiceFact:
        from dockyard.engine import swarm_writes
        return self._asking("inspecting a service", swarm_writes.inspect, service_id)

    def remove_service(self, service_id: str, name: str) -> None:
        from dockyard.engine import swarm_writes
        self._asking(f"removing service {name}", swarm_writes.remove, service_id)

    def roll_back_service(self, service_id: str, wait: float) -> None:
        from dockyard.engine import swarm_writes
        self._asking(f"rolling back service {service_id[:12]}", swarm_writes.roll_back, service_id, wait)

    def swarm_files(self, kind: str, app: str, env: str) -> dict[str, str]:
        from dockyard.engine import swarm_writes
        return self._asking(f"listing {kind}s on engine {self.name!r}", swarm_writes.files, kind, app, env)

    def make_swarm_file(self, kind: str, name: str, data: bytes, labels: dict[str, str], what: str) -> str:
        from dockyard.engine import swarm_writes
        return self._asking(f"creating {kind} {name} for {what}", swarm_writes.make_file, kind, name, data, labels)

    def remove_swarm_file(self, kind: str, object_id: str) -> bool:
        from dockyard.engine import swarm_writes
        return self._asking(f"removing a {kind}", swarm_writes.remove_file, kind, object_id)

    def ensure_image(self, ref: str) -> ImageFacts:
        from dockyard.engine import images
        found = self.inspect_image(ref)
        if found is not None:
            return found
        from dockyard.engine.api import DockerError

        try:
            return images.pull(self.client, ref)
        except DockerError as exc:
            raise RegistryError(f"engine {self.name!r} cannot pull {ref}: {short_reason(exc)}",
                                hint="was it built and pushed? dockyard build") from exc

    # -- accessories, test runs, a container's output ---------------------------------------------
    def find_accessory(self, app: str, env: str, name: str) -> AccessoryState | None:
        from dockyard.engine import accessories
        return accessories.find_accessory(self, app, env, name)

    def list_accessories(self, app: str, env: str | None = None) -> list[AccessoryState]:
        from dockyard.engine import listing
        return self._reading(f"listing the accessories of {app}", listing.accessories, app, env)

    def start_accessory(self, run: AccessoryRun) -> str:
        from dockyard.engine import accessories
        return accessories.start_accessory(self, run)

    def wait_accessory(self, container_id: str, what: str, timeout: float, logs_hint: str) -> AccessoryState:
        from dockyard.engine import accessories
        return accessories.wait_healthy(self, container_id, what, timeout, logs_hint)

    def accessory_logs(self, container_id: str, name: str, tail: int, follow: bool) -> Iterator[bytes]:
        from dockyard.engine import accessories
        return accessories.accessory_logs(self, container_id, name, tail, follow)

    def run_test(self, test: TestSpec, image: str, app: str, env: str, target_url: str | None = None,
                 extra_env: dict[str, str] | None = None, progress: Callable[[str], None] | None = None
                 ) -> TestResult:
        from dockyard.engine import testrun
        return testrun.run_test(self, lambda: connect("local"), test, image, app, env, target_url, extra_env,
                                progress)

    def await_task(self, container_id: str, name: str, timeout: float,
                   progress: Callable[[str], None] | None = None) -> TaskRun:
        from dockyard.engine import tasks
        return tasks.await_task(self, container_id, name, timeout, progress)

    def task_containers(self, app: str, env: str) -> list[ReplicaFacts]:
        from dockyard.engine import tasks
        return tasks.task_containers(self, app, env)

    def await_service_task(self, service_id: str, name: str, timeout: float,
                           progress: Callable[[str], None] | None = None) -> TaskRun:
        from dockyard.engine import swarm_tasks
        return swarm_tasks.await_service_task(self, service_id, name, timeout, progress)

    def task_services(self, app: str, env: str) -> list[ReplicaFacts]:
        from dockyard.engine import swarm_tasks
        return swarm_tasks.task_services(self, app, env)

    def container_lines(self, container_id: str, tail: int, since: float | None = None) -> list[tuple[str, str, str]]:
        from dockyard.engine import container_logs
        return self._reading(f"reading the logs of {container_id[:12]}", container_logs.container_lines,
                             container_id, tail, since)

    # -- networks, volumes, a stop, a start: what every path shares --------------------------------
    def ensure_network(self, app: str, env: str) -> str:
        from dockyard.engine import networks
        return networks.ensure_network(self, app, env)

    def remove_network(self, app: str, env: str) -> bool:
        from dockyard.engine import networks
        return networks.remove_network(self, app, env)

    def ensure_volume(self, app: str, env: str, service: str, name: str) -> str:
        from dockyard.engine import volumes
        return volumes.ensure_volume(self, app, env, service, name)

    def app_volumes(self, app: str, env: str) -> list[str]:
        from dockyard.engine import volumes
        return volumes.app_volumes(self, app, env)

    def remove_volume(self, name: str, wait: float = 0.0) -> None:
        from dockyard.engine import volumes
        volumes.remove_volume(self, name, wait)

    def pin_node(self, label: str) -> str:
        from dockyard.engine import volumes
        return volumes.pin_node(self, label)

    def unpin_nodes(self, prefix: str) -> list[str]:
        from dockyard.engine import volumes
        return volumes.unpin_nodes(self, prefix)

    def stop_and_remove(self, container_id: str, name: str, grace: float) -> bool:
        from dockyard.engine import actions
        return actions.stop_and_remove(self, container_id, name, grace)

    def stop_replica(self, container_id: str, name: str, grace: float) -> None:
        from dockyard.engine import actions
        actions.stop_container(self, container_id, name, grace)

    def start_again(self, container_id: str, name: str) -> ReplicaFacts:
        from dockyard.engine import actions
        return actions.start_container(self, container_id, name)

    def remove_services(self, app: str, env: str) -> list[str]:
        from dockyard.engine import actions
        return actions.remove_services(self, app, env)

    def scale_service(self, service_id: str, replicas: int, labels: dict[str, str | None] | None = None
                      ) -> dict[str, Any]:
        from dockyard.engine import services as swarm_services
        from dockyard.engine.api import DockerError
        try:
            return swarm_services.scale_service(self, service_id, replicas, labels)
        except DockerError as exc:
            raise engine_error(f"scaling service {service_id[:12]} to {replicas}", exc) from exc

    def service_log_frames(self, service_id: str, since_ns: int | None, tail: int | str, follow: bool
                           ) -> Iterator[tuple[int, bytes]]:
        from dockyard.engine import services as swarm_services
        from dockyard.engine.api import DockerError
        what = f"reading the logs of service {service_id[:12]}"
        try:
            yield from swarm_services.service_log_frames(self, service_id, since_ns, tail, follow)
        except DockerError as exc:
            raise engine_error(what, exc) from exc

    def task_logs(self, task_id: str, lines: int) -> str:
        from dockyard.engine import services as swarm_services
        from dockyard.engine.api import DockerError
        try:
            return swarm_services.task_logs_text(self, task_id, lines)
        except (*DockerError, OSError) as exc:
            raise engine_error(f"reading the logs of task {task_id[:12]}", exc) from exc

    # -- what runs: one observation, containers or a Swarm's tasks ---------------------------------
    def observe(self, app: str | None, env: str | None = None) -> list[Running]:
        from dockyard.engine.observation import observation
        return observation(self, app, env)

    def require_manager(self) -> None:
        from dockyard.engine import swarm_reads
        manager, state = self._asking(f"asking engine {self.name!r} about its swarm", swarm_reads.swarm_state)
        if not manager:
            raise EngineError(f"engine {self.name!r} ({self.config.host}) is not a Swarm manager (swarm: {state})",
                              hint="on it: docker swarm init --advertise-addr ADDR; or register the manager's "
                                   "address with dockyard engine add NAME --host ... --swarm")

    def services(self, app: str | None, env: str | None = None) -> list[ServiceFact]:
        from dockyard.engine import swarm_reads
        return self._asking(f"listing services on engine {self.name!r}", swarm_reads.services, app, env)

    def tasks(self, service_ids: list[str]) -> list[TaskFact]:
        from dockyard.engine import swarm_reads
        return self._asking(f"listing tasks on engine {self.name!r}", swarm_reads.tasks, service_ids)

    def running_tasks(self) -> list[TaskFact]:
        from dockyard.engine import swarm_reads
        return self._asking(f"listing tasks on engine {self.name!r}", swarm_reads.running_tasks)

    def nodes(self) -> dict[str, NodeFact]:
        from dockyard.engine import swarm_reads
        return self._asking(f"listing nodes on engine {self.name!r}", swarm_reads.nodes)

    # -- builds, registries, nodes and the monitor's reads ----------------------------------------

    def _asking(self, action: str, call: Callable[..., T], *args: Any) -> T:
        """docker-py's `call`, its failures an EngineError that says what was asked."""
        from dockyard.engine.api import DockerError

        try:
            return call(self.client, *args)
        except DockerError as exc:
            raise engine_error(action, exc) from exc

    def _reading(self, action: str, call: Callable[..., T], *args: Any) -> T:
        """A read over the wire, its failures an EngineError that says what was asked."""
        try:
            return call(self.wire, *args)
        except WireError as exc:
            raise EngineUnavailable(f"{action}: the engine stopped answering: {short_reason(exc)}") from exc
        except WireRefused as exc:
            raise EngineError(f"{action}: {exc.message}") from exc

    def list_replicas(self, app: str | None = None, env: str | None = None, service: str | None = None,
                      all: bool = True, detail: bool = True) -> list[ReplicaFacts]:
        from dockyard.engine import listing
        read = listing.replicas if detail else listing.listed
        return self._reading(f"listing containers on engine {self.name!r}", read, app, env, service, all)

    def running_replicas(self, selector: Mapping[str, str]) -> list[ReplicaFacts]:
        from dockyard.engine import replicas
        return self._asking(f"listing containers on engine {self.name!r}", replicas.running, selector)

    def inspect_replica(self, container_id: str) -> ReplicaFacts | None:
        from dockyard.engine import replicas
        return self._asking(f"inspecting container {container_id[:12]}", replicas.inspect, container_id)

    def container_events(self, since: int) -> EventStream:
        from dockyard.engine import replicas
        return self._asking(f"following the events of engine {self.name!r}", replicas.events, since)

    def inspect_image(self, ref: str) -> ImageFacts | None:
        from dockyard.engine import images
        return self._asking(f"looking up {ref}", images.inspect, ref)

    def pull_image(self, ref: str) -> ImageFacts:
        from dockyard.engine import images
        return self._asking(f"pulling {ref}", images.pull, ref)

    def tag_image(self, source: str, repo: str, tag: str) -> None:
        from dockyard.engine import images
        self._asking(f"tagging {source} as {repo}:{tag}", images.tag, source, repo, tag)

    def build_image(self, context: Path, dockerfile: str, tag: str, labels: Mapping[str, str],
                    args: Mapping[str, str], progress: Callable[[str], None]) -> str:
        from dockyard.engine import images
        return self._asking(f"building {tag}", images.build, context, dockerfile, tag, labels, args, progress)

    def push_image(self, source: str, repo: str, tag: str, progress: Callable[[str], None]) -> str:
        from dockyard.engine import images
        self._asking(f"pushing {repo}:{tag}", images.tag, source, repo, tag)
        return self._asking(f"pushing {repo}:{tag}", images.push, repo, tag, progress)

    def version(self) -> str | None:
        from dockyard.engine import host
        return self._asking(f"asking engine {self.name!r} its version", host.version)

    def cgroup_driver(self) -> str:
        from dockyard.engine import host
        return self._asking(f"asking engine {self.name!r} about its cgroups", host.cgroup_driver)

    def containers_root(self) -> str:
        from dockyard.engine import host
        return self._asking(f"asking engine {self.name!r} where it keeps its containers", host.containers_root)

    def node_id(self) -> str | None:
        from dockyard.engine import host
        return self._asking(f"asking engine {self.name!r} about its swarm", host.node_id)

    def service_names(self) -> dict[str, str]:
        from dockyard.engine import host
        return self._asking(f"listing services on engine {self.name!r}", host.service_names)

    # -- backups and restores (VolumeEngine) ---------------------------------------------------------
    def volume_exists(self, name: str) -> bool:
        from dockyard.engine import backups
        return backups.volume_exists(self.client, name)

    def volume_users(self, volume: str) -> list[ReplicaFacts]:
        from dockyard.engine import backups
        return backups.users_of(self.client, volume)

    def accessory_container(self, app: str, env: str, name: str) -> ReplicaFacts | None:
        from dockyard.engine import accessories
        from dockyard.engine.facts import replica_facts
        found = accessories.inspect_accessory(self, app, env, name)  # one inspect, read as facts
        return None if found is None else replica_facts(found)

    def paused(self, container_ids: list[str]) -> AbstractContextManager[None]:
        from dockyard.engine import backups
        return backups.paused(self.client, container_ids)

    def volume_copier(self, volumes: dict[str, str], labels: dict[str, str], read_only: bool
                      ) -> AbstractContextManager[str]:
        from dockyard.engine import backups
        return backups.copier(self.client, volumes, labels, read_only)

    def read_volumes(self, copier_id: str) -> Iterator[bytes]:
        from dockyard.engine import backups
        return backups.read_volumes(self.client, copier_id)

    def write_volumes(self, copier_id: str, data: IO[bytes] | Iterable[bytes]) -> None:
        from dockyard.engine import backups
        backups.write_volumes(self.client, copier_id, data)

    def exec_stdout(self, container_id: str, name: str, argv: list[str]) -> Iterator[bytes]:
        from dockyard.engine import backups
        return backups.exec_stdout(self.client, container_id, name, argv)

    def run_once(self, image: str, argv: list[str], volumes: dict[str, str], user: str, files: IO[bytes],
                 environment: dict[str, str], labels: dict[str, str], timeout: float) -> None:
        from dockyard.engine import backups
        backups.run_once(self.client, image, argv, volumes, user, files, environment, labels, timeout)

    def host_mountpoints(self, volumes: dict[str, str]) -> dict[str, Path] | None:
        from dockyard.engine import backups
        return backups.host_mountpoints(self.client, self.is_local_host, volumes)

    def staging_volume(self, app: str, env: str, live: str, restore_id: str) -> str:
        from dockyard.engine import volume_swap
        return volume_swap.staging_volume(self.client, app, env, live, restore_id)

    def swap_volume_data(self, step: str, live: str, staged: str, restore_id: str, labels: dict[str, str],
                         timeout: float) -> None:
        from dockyard.engine import volume_swap
        volume_swap.swap_in_engine(self.client, self.name, step, live, staged, restore_id, labels, timeout)


def tls_config(cfg: EngineSettings) -> docker.tls.TLSConfig | None:
    import docker.tls

    if not (cfg.tls_ca or cfg.tls_cert):
        return None
    cert = (cfg.tls_cert, cfg.tls_key) if cfg.tls_cert and cfg.tls_key else None
    return docker.tls.TLSConfig(client_cert=cert, ca_cert=cfg.tls_ca, verify=cfg.tls_ca or True)


def docker_client(name: str, cfg: EngineSettings, timeout: int) -> Any:
    """docker-py's client of an engine that answered a ping (connect)."""
    import docker
    import docker.errors
    import requests.exceptions

    try:
        client = docker.DockerClient(base_url=cfg.host, tls=tls_config(cfg) or False, timeout=timeout,
                                     version=API_VERSION)
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        raise EngineUnavailable(f"engine {name!r} at {cfg.host} is not reachable: {short_reason(exc)}",
                                hint=UNREACHABLE_HINT) from exc
    # The engine's own CA must be used, not REQUESTS_CA_BUNDLE or a proxy from the environment.
    client.api.trust_env = False
    return client


UNREACHABLE_HINT = "check that dockerd runs there (dockyard doctor) and, for tcp://, the TLS certificates"


def connect(name: str, site: settings.Settings | None = None, timeout: int = 60) -> DockerEngine:
    """The engine registered as `name`, once it answered a ping."""
    cfg = settings.engine(name, site)
    engine = DockerEngine(name=name, config=cfg, timeout=timeout)
    try:
        engine.wire.ping()
    except (WireError, OSError, ValueError) as exc:
        engine.close()
        raise EngineUnavailable(f"engine {name!r} at {cfg.host} is not reachable: {short_reason(exc)}",
                                hint=UNREACHABLE_HINT) from exc
    return engine

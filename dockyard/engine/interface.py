"""`Engine`: one Docker engine in Dockyard's words, the interface the layers above program against.

Its verbs take and return Dockyard's own values (engine/facts.py, swarm_facts.py, rows.py) and raise
EngineError; nothing above engine/ sees docker-py or Docker's JSON. engine/client.DockerEngine is
the real one (docker-py behind it); tests/fakes/engine.FakeEngine keeps containers and a Swarm in
memory, so every strategy on every target runs in a unit test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from dockyard.errors import EngineError

if TYPE_CHECKING:
    from dockyard.engine.accessories import AccessoryRun
    from dockyard.engine.containers import ReplicaSpec
    from dockyard.engine.facts import AccessoryState, EventStream, ImageFacts, ReplicaFacts, TaskRun, TestResult
    from dockyard.engine.rows import Running
    from dockyard.engine.swarm_facts import NodeFact, ServiceFact, TaskFact
    from dockyard.settings import EngineSettings
    from dockyard.spec.model import TestSpec


class NameTaken(EngineError):
    """Another container holds the name."""


class PortTaken(EngineError):
    """The published port was taken between its choice and the start."""


class Engine(Protocol):
    """One engine, as a deploy, a read or the monitor use it; each verb's docstring is its contract,
    kept by DockerEngine and by the fake alike."""

    name: str  # the site's name for it: local, tls-host, ...
    config: EngineSettings

    @property
    def is_local_host(self) -> bool:
        """True when the engine runs on this machine (its bind mounts see our files)."""
        ...

    def close(self) -> None:
        ...

    def create_replica(self, spec: ReplicaSpec, name: str) -> ReplicaFacts:
        """Create (not start) the container of one replica; NameTaken when another holds the name."""
        ...

    def put_files(self, container_id: str, archive: bytes, name: str) -> None:
        """Unpack a tar at / of a created container (its rendered config files)."""
        ...

    def start_replica(self, container_id: str, name: str) -> None:
        """Start a container; PortTaken when its published port was taken meanwhile."""
        ...

    def remove_replica(self, container_id: str, what: str) -> None:
        """Remove a container at once (killed if it runs); `what` names the caller's step in an error."""
        ...

    def rename_replica(self, container_id: str, name: str, what: str) -> None:
        ...

    def last_lines(self, container_id: str, lines: int = 20) -> str:
        """The container's last log lines, for an error that says why it failed."""
        ...

    def create_service(self, body: dict[str, Any]) -> str:
        """Create a Swarm service from its spec (engine/swarm_spec.py); its id."""
        ...

    def update_service(self, service_id: str, version: int, body: dict[str, Any]) -> None:
        ...

    def inspect_service(self, service_id: str) -> ServiceFact:
        ...

    def remove_service(self, service_id: str, name: str) -> None:
        ...

    def roll_back_service(self, service_id: str, wait: float) -> None:
        """Swarm's rollback of the service to its previous spec, waited for."""
        ...

    def swarm_files(self, kind: str, app: str, env: str) -> dict[str, str]:
        """The environment's Swarm configs (kind "config") or secrets ("secret"): name -> id."""
        ...

    def make_swarm_file(self, kind: str, name: str, data: bytes, labels: dict[str, str], what: str) -> str:
        ...

    def remove_swarm_file(self, kind: str, object_id: str) -> bool:
        """False while a task still uses it."""
        ...

    def ensure_image(self, ref: str) -> ImageFacts:
        """The image as this engine has it, pulled from its registry when absent."""
        ...

    # -- accessories (one container each, apart from the app's replicas), test runs, output ------
    def find_accessory(self, app: str, env: str, name: str) -> AccessoryState | None:
        """The accessory's container; a container of its name that is not this accessory is refused."""
        ...

    def list_accessories(self, app: str, env: str | None = None) -> list[AccessoryState]:
        ...

    def start_accessory(self, run: AccessoryRun) -> str:
        """Create and start its container (the caller removed any previous one); its id."""
        ...

    def wait_accessory(self, container_id: str, what: str, timeout: float, logs_hint: str) -> AccessoryState:
        """Until Docker's health check passes (or, with none, the container runs); its last state.
        A DeployError saying `what` when it exits or `timeout` passes."""
        ...

    def accessory_logs(self, container_id: str, name: str, tail: int, follow: bool) -> Iterator[bytes]:
        """Its output as the engine keeps it: the last `tail` lines, then new ones when following."""
        ...

    def run_test(self, test: TestSpec, image: str, app: str, env: str, target_url: str | None = None,
                 extra_env: dict[str, str] | None = None, progress: Callable[[str], None] | None = None
                 ) -> TestResult:
        """Run one of the app's tests in a container of `image`, without network, or for an endpoint
        test reaching only `target_url`'s port; its verdict and output. `progress` gets each line of
        its output as the test writes it."""
        ...

    def await_task(self, container_id: str, name: str, timeout: float,
                   progress: Callable[[str], None] | None = None) -> TaskRun:
        """Wait for a task's container (made by create_replica from a ReplicaSpec with `task`) to end,
        killed at `timeout`; `progress` gets each line of its output as it is written. An ended one
        answers at once with how it ended. The container stays: remove it with remove_replica."""
        ...

    def task_containers(self, app: str, env: str) -> list[ReplicaFacts]:
        """The environment's task containers, running or ended."""
        ...

    def await_service_task(self, service_id: str, name: str, timeout: float,
                           progress: Callable[[str], None] | None = None) -> TaskRun:
        """Wait for the one task of a one-off Swarm service (swarm_spec.one_off_body) to end, the
        service scaled to 0 at `timeout`; `progress` gets each line of its output as it comes. The
        service stays: remove it with remove_service."""
        ...

    def task_services(self, app: str, env: str) -> list[ReplicaFacts]:
        """The environment's one-off Swarm services, each as its task's state (running, exited, created)."""
        ...

    def container_lines(self, container_id: str, tail: int, since: float | None = None) -> list[tuple[str, str, str]]:
        """(RFC 3339 time, stream, text) of the container's last `tail` lines of each stream, newer
        than `since` (epoch seconds); [] for a container gone meanwhile."""
        ...

    def ensure_network(self, app: str, env: str) -> str:
        """The app's environment network, made when missing; its name."""
        ...

    def remove_network(self, app: str, env: str) -> bool:
        ...

    def ensure_volume(self, app: str, env: str, service: str, name: str) -> str:
        """The service's named volume, made labelled when missing; its full name."""
        ...

    def app_volumes(self, app: str, env: str) -> list[str]:
        ...

    def remove_volume(self, name: str, wait: float = 0.0) -> None:
        ...

    def pin_node(self, label: str) -> str:
        """The Swarm node that carries `label`, this manager's node labelled when none does."""
        ...

    def unpin_nodes(self, prefix: str) -> list[str]:
        ...

    def stop_and_remove(self, container_id: str, name: str, grace: float) -> bool:
        """Stop within `grace`, remove, drop its secret files; False when it was gone already."""
        ...

    def stop_replica(self, container_id: str, name: str, grace: float) -> None:
        """Stop it and keep it, to be started again as it is (a parked worker)."""
        ...

    def start_again(self, container_id: str, name: str) -> ReplicaFacts:
        """Start a stopped container again; it as it is then, for a health wait."""
        ...

    def remove_services(self, app: str, env: str) -> list[str]:
        """Every Swarm service of the environment, then their configs and secrets; the names."""
        ...

    def scale_service(self, service_id: str, replicas: int, labels: dict[str, str | None] | None = None
                      ) -> dict[str, Any]:
        """Set a service's replica count (and labels) on its spec; the spec sent."""
        ...

    def service_log_frames(self, service_id: str, since_ns: int | None, tail: int | str, follow: bool
                           ) -> Iterator[tuple[int, bytes]]:
        """(stream number, payload) of a service's logs as the manager gathers them from every node:
        the last `tail` lines newer than `since_ns`, then new ones when following."""
        ...

    def task_logs(self, task_id: str, lines: int) -> str:
        """A task's last lines, stdout and stderr together."""
        ...

    def observe(self, app: str | None, env: str | None = None) -> list[Running]:
        """Dockyard's replicas of an app (environment) as rows: its containers, or on a Swarm manager
        the tasks of its services; the one observation ps, status and the deploys read."""
        ...

    def require_manager(self) -> None:
        """Refused unless this engine is a Swarm manager, saying how to make one."""
        ...

    def services(self, app: str | None, env: str | None = None) -> list[ServiceFact]:
        """Dockyard's Swarm services of an app (environment)."""
        ...

    def tasks(self, service_ids: list[str]) -> list[TaskFact]:
        ...

    def running_tasks(self) -> list[TaskFact]:
        """Every task of the Swarm meant to run, whoever's (the pool's view)."""
        ...

    def nodes(self) -> dict[str, NodeFact]:
        ...

    def list_replicas(self, app: str | None = None, env: str | None = None, service: str | None = None,
                      all: bool = True, detail: bool = True) -> list[ReplicaFacts]:
        """Dockyard's containers of an app (environment, service); without `all`, the running ones.
        Without `detail`, only what the engine's listing says (facts.listed_replica_facts): one call."""
        ...

    def running_replicas(self, selector: Mapping[str, str]) -> list[ReplicaFacts]:
        """Every running container whose labels match `selector` (KEY=VALUE, or KEY alone when empty),
        Dockyard's or not: the host agent's view."""
        ...

    def inspect_replica(self, container_id: str) -> ReplicaFacts | None:
        """The container as it is now; None when it is gone."""
        ...

    def container_events(self, since: int) -> EventStream:
        """The engine's container events from `since` (epoch seconds) on, until the stream is closed."""
        ...

    def inspect_image(self, ref: str) -> ImageFacts | None:
        """The image `ref` on this engine; None when it has none (nothing is pulled)."""
        ...

    def pull_image(self, ref: str) -> ImageFacts:
        ...

    def tag_image(self, source: str, repo: str, tag: str) -> None:
        """Give the image `source` the name `repo:tag` too."""
        ...

    def build_image(self, context: Path, dockerfile: str, tag: str, labels: Mapping[str, str],
                    args: Mapping[str, str], progress: Callable[[str], None]) -> str:
        """Build `context` as `tag`, each output line to `progress`; the image id ("" if the engine gave
        none). A failed step is a BuildError with the step's last lines."""
        ...

    def push_image(self, source: str, repo: str, tag: str, progress: Callable[[str], None]) -> str:
        """Tag `source` as `repo:tag` and push it; the digest the registry gave ("" if none). A refusal
        the registry reports in the stream is a BuildError."""
        ...

    def version(self) -> str | None:
        """The engine's version (20.10.24, ...)."""
        ...

    def cgroup_driver(self) -> str:
        """How the engine places containers in cgroups: cgroupfs or systemd."""
        ...

    def containers_root(self) -> str:
        """The folder of the engine's containers on its host (their json-file logs)."""
        ...

    def node_id(self) -> str | None:
        """The Swarm node this engine is; None outside a Swarm."""
        ...

    def service_names(self) -> dict[str, str]:
        """Every Swarm service the engine manages: id -> name."""
        ...


class VolumeEngine(Engine, Protocol):
    """An Engine that can back up and restore volumes (backup/): read them whole, write them whole,
    pause their writers, run a dump or a restore command, and swap restored data in. Containers are
    named by their ids; what is read comes as tar bytes. DockerEngine is one: connect() gives it."""

    def volume_exists(self, name: str) -> bool:
        ...

    def volume_users(self, volume: str) -> list[ReplicaFacts]:
        """The containers, running or not, that mount the volume (the engine's own copy and restore
        helpers left out)."""
        ...

    def accessory_container(self, app: str, env: str, name: str) -> ReplicaFacts | None:
        """The accessory's container, any state; None when there is none. A container of its name that
        is not this accessory's is refused (DeployError)."""
        ...

    def paused(self, container_ids: list[str]) -> AbstractContextManager[None]:
        """The running ones of the containers paused (their files stop changing) for the block, and
        unpaused after it, whatever happens; one gone meanwhile is not an error."""
        ...

    def volume_copier(self, volumes: dict[str, str], labels: dict[str, str], read_only: bool
                      ) -> AbstractContextManager[str]:
        """A container, created and never started, with each volume (full name -> short name) mounted
        at /dockyard-volumes/SHORT, read-only or not; its id, for read_volumes and write_volumes. It is
        removed after the block."""
        ...

    def read_volumes(self, copier_id: str) -> Iterator[bytes]:
        """The copier's volumes as one tar stream, members named dockyard-volumes/SHORT/..."""
        ...

    def write_volumes(self, copier_id: str, data: IO[bytes] | Iterable[bytes]) -> None:
        """Unpack a tar stream of members dockyard-volumes/SHORT/... over the copier's volumes."""
        ...

    def exec_stdout(self, container_id: str, name: str, argv: list[str]) -> Iterator[bytes]:
        """Run argv in the running container and yield its stdout as it comes; a non-zero exit raises
        EngineError with the end of its stderr. `name` says which container in errors."""
        ...

    def run_once(self, image: str, argv: list[str], volumes: dict[str, str], user: str, files: IO[bytes],
                 environment: dict[str, str], labels: dict[str, str], timeout: float) -> None:
        """Run argv as `user` in a one-off container of `image` (no network, no new privileges) with
        the volumes (full name -> path) mounted and the tar `files` unpacked at / first. It must exit 0
        within `timeout` seconds, else EngineError with its last output; the container is removed."""
        ...

    def host_mountpoints(self, volumes: dict[str, str]) -> dict[str, Path] | None:
        """short name -> the directory on this host of each volume (full name -> short), when Dockyard
        can read and write them there (an engine on this host, as root, the local driver without
        options); else None: go through the engine."""
        ...

    def staging_volume(self, app: str, env: str, live: str, restore_id: str) -> str:
        """A new, empty volume beside `live` for a restore to fill, labelled with the restore's id; its
        name."""
        ...

    def swap_volume_data(self, step: str, live: str, staged: str, restore_id: str, labels: dict[str, str],
                         timeout: float) -> None:
        """One step of swapping a staging volume's data into the live one inside the engine (a helper
        container): "swap" (undone by itself if it fails), "undo" (a swap, back), "commit" (the old data
        deleted). A failure raises EngineError saying what it left where."""
        ...

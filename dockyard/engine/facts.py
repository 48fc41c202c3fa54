"""What the engine says about a container or an image, in Dockyard's words.

The one parser of Docker's inspect JSON for containers and images: the layers above read these
dataclasses, never the JSON, so a fake engine (tests/fakes/) makes the same objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from dockyard.engine import labels as L

__all__ = ["AccessoryState", "Binding", "ContainerEvent", "EventStream", "ImageFacts", "Labelled", "ReplicaFacts",
           "TestResult", "accessory_state", "container_event", "image_facts", "listed_replica_facts", "replica_facts"]

LOOPBACK = ("127.0.0.1", "")  # where a published port is reachable from this host's tests and probes
ANY_HOST = (*LOOPBACK, "0.0.0.0", "::")


@dataclass(frozen=True)
class Binding:
    """One published port: container port/proto on host_ip:host_port."""

    port: int
    proto: str
    host_ip: str
    host_port: int


class Labelled:
    """Whose a container is, read from its labels: for every view of one (facts, the agent's own)."""

    labels: Mapping[str, str]

    @property
    def app(self) -> str:
        return self.labels.get(L.APP, "")

    @property
    def env(self) -> str:
        return self.labels.get(L.ENV, "")

    @property
    def service(self) -> str:
        return self.labels.get(L.SERVICE, "")


@dataclass(frozen=True)
class ReplicaFacts(Labelled):
    """One container as inspected: its labels, its state and where it can be reached."""

    id: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    status: str = "created"  # the engine's word: created, running, restarting, exited, paused, dead
    running: bool = False
    restarting: bool = False
    exit_code: int | None = None
    pid: int = 0
    restarts: int = 0
    health: str | None = None  # the verdict of a health command: starting, healthy, unhealthy
    started_at: str = ""
    bindings: tuple[Binding, ...] = ()
    asks_ports: bool = False  # made with published ports (kept while stopped, unlike the bindings)
    nano_cpus: int = 0
    image: str = ""
    log_path: str = ""
    cgroup_parent: str = ""
    upper_dir: str = ""
    last_exit: int | None = None  # the exit code of its last run, even while it runs again (restarting)
    health_exit: int | None = None  # the last health command's exit code and output, where there is one
    health_output: str = ""
    ended_at: float | None = None  # epoch seconds its last run ended (None: it never ended)

    def loopback_port(self, container_port: int | None = None) -> int | None:
        """The 127.0.0.1 host port it publishes its `container_port` on, else its first one."""
        for binding in self.bindings:
            if binding.host_ip in LOOPBACK and (container_port is None or
                                                (binding.port, binding.proto) == (container_port, "tcp")):
                return binding.host_port
        return None

    def host_ports(self) -> dict[tuple[int, str], int]:
        """(container port, proto) -> host port, for bindings the host itself can reach."""
        out: dict[tuple[int, str], int] = {}
        for binding in self.bindings:
            if binding.host_ip in ANY_HOST:
                out.setdefault((binding.port, binding.proto), binding.host_port)
        return out

    @property
    def publishes(self) -> bool:
        return self.asks_ports or self.loopback_port() is not None

    @property
    def url(self) -> str | None:
        port = self.loopback_port()
        return f"http://127.0.0.1:{port}" if port else None


@dataclass(frozen=True)
class ImageFacts:
    """A local image: what deploy reads from it before it starts a replica."""

    id: str
    labels: Mapping[str, str] = field(default_factory=dict)
    user: str = ""  # the image's USER ("" is root)
    repo_digests: tuple[str, ...] = ()

    @property
    def commit(self) -> str | None:
        return self.labels.get("dockyard.commit")


def bindings(attrs: Mapping[str, Any]) -> tuple[Binding, ...]:
    found = []
    for key, bound in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        for binding in bound or []:
            if binding.get("HostPort"):
                found.append(Binding(int(port), proto or "tcp", binding.get("HostIp") or "", int(binding["HostPort"])))
    return tuple(found)


def replica_facts(attrs: Mapping[str, Any]) -> ReplicaFacts:
    """A container's inspect data (or a listing's, which docker-py inspects) as ReplicaFacts."""
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    running = bool(state.get("Running"))
    last_check = ((state.get("Health") or {}).get("Log") or [{}])[-1]
    return ReplicaFacts(
        id=attrs.get("Id") or "",
        name=(attrs.get("Name") or "").lstrip("/"),
        labels=dict(config.get("Labels") or {}),
        status=state.get("Status") or ("running" if running else "created"),
        running=running,
        restarting=bool(state.get("Restarting")),
        exit_code=None if running else state.get("ExitCode"),
        pid=int(state.get("Pid") or 0),
        restarts=int(attrs.get("RestartCount") or 0),
        health=(state.get("Health") or {}).get("Status"),
        started_at=state.get("StartedAt") or "",
        bindings=bindings(attrs),
        asks_ports=bool(host.get("PortBindings")),
        nano_cpus=int(host.get("NanoCpus") or 0),
        image=config.get("Image") or "",
        log_path=attrs.get("LogPath") or "",
        cgroup_parent=host.get("CgroupParent") or "",
        upper_dir=((attrs.get("GraphDriver") or {}).get("Data") or {}).get("UpperDir", ""),
        last_exit=state.get("ExitCode"),
        health_exit=last_check.get("ExitCode"),
        health_output=str(last_check.get("Output") or ""),
        ended_at=None if running else docker_time(state.get("FinishedAt")),
    )


def docker_time(text: str | None) -> float | None:
    """Docker's '2026-12-07T11:59:03.123456789Z' as epoch seconds; its zero time and nothing: None."""
    if not text or text.startswith("0001-"):
        return None
    whole, _, rest = text.rstrip("Z").partition(".")
    try:
        stamp = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
    digits = "".join(c for c in rest if c.isdigit())
    return stamp + (int(digits) / 10 ** len(digits) if digits else 0.0)


# The end of a listed container's Status when it has a HEALTHCHECK: "Up 2 minutes (healthy)",
# "(unhealthy)", "(health: starting)".
LISTED_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)$")


def listed_replica_facts(item: Mapping[str, Any]) -> ReplicaFacts:
    """A container as the engine's listing (GET /containers/json) shows it: its names, labels,
    state, a health command's verdict and published ports, enough for a row of `ps` or a
    release's view; none of an inspect's detail (pid, restarts, exit codes, paths, the ports a
    stopped container asks for)."""
    state = item.get("State") or "created"
    health = LISTED_HEALTH.search(item.get("Status") or "")
    names = item.get("Names") or [""]
    bound = tuple(Binding(int(port["PrivatePort"]), port.get("Type") or "tcp", port.get("IP") or "",
                          int(port["PublicPort"])) for port in item.get("Ports") or [] if port.get("PublicPort"))
    return ReplicaFacts(
        id=item.get("Id") or "",
        name=str(names[0]).lstrip("/"),
        labels=dict(item.get("Labels") or {}),
        status=state,
        running=state in ("running", "paused", "restarting"),  # as inspect's State.Running says it
        restarting=state == "restarting",
        health=None if health is None else health[1].removeprefix("health: "),
        bindings=bound,
        asks_ports=bool(bound),  # while it runs; a stopped container's listing shows none (inspect it)
        image=item.get("Image") or "",
    )


def image_facts(attrs: Mapping[str, Any]) -> ImageFacts:
    config = attrs.get("Config") or {}
    return ImageFacts(id=attrs.get("Id") or "", labels=dict(config.get("Labels") or {}),
                      user=config.get("User") or "", repo_digests=tuple(attrs.get("RepoDigests") or ()))


@dataclass(frozen=True)
class TestResult:
    __test__ = False
    name: str
    passed: bool
    exit_code: int | None
    output: str
    seconds: float
    timed_out: bool = False

    def summary(self) -> str:
        if self.timed_out:
            return f"test {self.name}: timed out after {self.seconds:.0f}s"
        verdict = "passed" if self.passed else f"failed (exit {self.exit_code})"
        return f"test {self.name}: {verdict} in {self.seconds:.1f}s"


@dataclass(frozen=True)
class TaskRun:
    """How a one-off task's container ended: its exit code (None when it was killed at its timeout),
    the end of its output, and how long it was waited for."""

    exit_code: int | None
    output: str
    seconds: float
    timed_out: bool = False

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def status(self) -> str:
        """As the task history keeps it: succeeded, failed or timed out."""
        return "succeeded" if self.succeeded else "timed out" if self.timed_out else "failed"

    def summary(self) -> str:
        if self.timed_out:
            return f"timed out after {self.seconds:.0f}s"
        return f"{'succeeded' if self.succeeded else f'failed (exit {self.exit_code})'} in {self.seconds:.1f}s"


@dataclass(frozen=True)
class ContainerEvent:
    """One event of the engine's container stream, in Dockyard's words."""

    id: str
    action: str  # create, start, die, oom, rename, destroy, health_status, ...
    detail: str  # what follows the action: "unhealthy" of health_status
    time_ns: int
    name: str  # the container's name when it happened
    labels: Mapping[str, str]  # the container's labels, as the event carries them
    exit_code: int | None = None  # of a die


# what an event's attributes hold besides the container's labels
EVENT_ATTRIBUTES = ("name", "image", "exitCode", "signal", "execID")


def container_event(raw: Mapping[str, Any]) -> ContainerEvent:
    """An event as the engine streams it (Engine API /events) as a ContainerEvent."""
    action, _, detail = (raw.get("Action") or raw.get("status") or "").partition(":")
    actor = raw.get("Actor") or {}
    attributes = dict(actor.get("Attributes") or {})
    code = attributes.get("exitCode")
    nanos = int(raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000)
    return ContainerEvent(id=raw.get("id") or actor.get("ID", ""), action=action, detail=detail.strip(),
                          time_ns=nanos, name=attributes.get("name", ""),
                          labels={k: v for k, v in attributes.items() if k not in EVENT_ATTRIBUTES},
                          exit_code=int(code) if code not in (None, "") else None)


class EventStream(Protocol):
    """The engine's container events as they come, until closed."""

    def __iter__(self) -> Iterator[ContainerEvent]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class AccessoryState:
    """An accessory's container as `ps` and `accessory` commands show it."""

    app: str
    env: str
    name: str
    container: str
    id: str
    state: str  # created | running | restarting | exited | ...
    health: str  # healthy | unhealthy | starting | none (no check)
    image: str
    config_hash: str
    restarts: int
    started_at: str


def accessory_state(attrs: dict[str, Any]) -> AccessoryState:
    """Pure: an inspect body -> its row."""
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    state = attrs.get("State") or {}
    return AccessoryState(
        app=labels.get(L.APP, ""), env=labels.get(L.ENV, ""), name=labels.get(L.ACCESSORY, ""),
        container=(attrs.get("Name") or "").lstrip("/"), id=attrs.get("Id", ""),
        state=state.get("Status", ""), health=(state.get("Health") or {}).get("Status", "none"),
        image=(attrs.get("Config") or {}).get("Image", ""), config_hash=labels.get(L.CONFIG_HASH, ""),
        restarts=int(attrs.get("RestartCount") or 0), started_at=state.get("StartedAt", ""))

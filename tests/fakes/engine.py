"""A fake Docker engine for unit tests of the orchestration: the part of docker-py's client that
deploy/ uses, in memory, recording every action in order (the way plan/ is tested by equality)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import docker.errors
import requests.exceptions

from dockyard.engine.interface import Engine
from dockyard.router.edge import EdgeConflict, Where
from dockyard.router.edge_render import EdgeRoute, claim_conflicts
from dockyard.router.render import RouterState, Side
from dockyard.settings import EngineSettings


@dataclass
class FakeContainer:
    client: FakeClient
    id: str
    name: str
    labels: dict[str, str]
    kwargs: dict[str, Any]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """docker-py's: the inspect data's State.Status."""
        state = self.attrs.get("State") or {}
        return str(state.get("Status") or ("running" if state.get("Running") else "created"))

    @status.setter
    def status(self, value: str) -> None:
        self.attrs = {**self.attrs, "State": {**(self.attrs.get("State") or {}), "Status": value,
                                              "Running": value == "running"}}

    def _log(self, action: str) -> None:
        if self.client.down:
            raise requests.exceptions.ConnectionError("('Connection aborted.', FileNotFoundError(2, "
                                                      "'No such file or directory'))")
        self.client.actions.append(f"{action} {self.name}")

    def start(self) -> None:
        if self.name in self.client.fail_start:
            raise docker.errors.APIError(f"cannot start {self.name}")
        # a published port is the one asked for, else one the engine picks
        wanted = {key: binding[1] for key, binding in (self.kwargs.get("ports") or {}).items()}
        if self.client.taken_ports & set(wanted.values()):
            raise docker.errors.APIError("driver failed programming external connectivity: "
                                         "listen tcp4 127.0.0.1: bind: address already in use")
        ports = {key: [{"HostIp": "127.0.0.1", "HostPort": str(port or next(self.client.host_ports))}]
                 for key, port in wanted.items()}
        started = f"2026-11-29T10:00:{next(self.client.clock):02d}Z"
        self.attrs = {**self.attrs, "NetworkSettings": {"Ports": ports},
                      "State": {"Running": True, "Status": "running", "StartedAt": started}}
        self._log("start")

    def stop(self, timeout: int = 10) -> None:
        self.attrs = {**self.attrs, "State": {"Running": False, "Status": "exited", "ExitCode": 0}}
        self._log("stop")

    def remove(self, force: bool = False) -> None:
        self._log("remove")
        self.client.containers.items.pop(self.id, None)

    def rename(self, name: str) -> None:
        self._log("rename")
        self.client.actions[-1] = f"rename {self.name} -> {name}"
        self.client.containers.claim(name)
        self.name = name
        self.attrs = {**self.attrs, "Name": "/" + name}

    def reload(self) -> None:
        pass

    def put_archive(self, path: str, data: bytes) -> bool:
        self._log("put_archive")
        return True

    def logs(self, **kwargs: Any) -> bytes:
        return b""


class FakeContainers:
    def __init__(self, client: FakeClient) -> None:
        self.client = client
        self.items: dict[str, FakeContainer] = {}
        self.ids = (f"{n:064x}" for n in itertools.count(1))

    def claim(self, name: str) -> None:
        """Names are unique on an engine: a second container of the same name is a 409."""
        if any(c.name == name for c in self.items.values()):
            raise docker.errors.APIError(f'Conflict. The container name "/{name}" is already in use')

    def create(self, **kwargs: Any) -> FakeContainer:
        self.claim(kwargs["name"])
        container_id, labels = next(self.ids), dict(kwargs.get("labels") or {})
        container = FakeContainer(self.client, container_id, kwargs["name"], labels, kwargs, attrs={
            "Id": container_id, "Name": "/" + kwargs["name"], "Config": {"Labels": labels},
            "HostConfig": {"NanoCpus": kwargs.get("nano_cpus") or 0, "PortBindings": {
                key: [{"HostIp": ip, "HostPort": str(port or "")}]
                for key, (ip, port) in (kwargs.get("ports") or {}).items()}},
            "State": {"Running": False}})
        self.items[container.id] = container
        self.client.actions.append(f"create {container.name}")
        return container

    def get(self, id_or_name: str) -> FakeContainer:
        found = self.items.get(id_or_name) or next((c for c in self.items.values() if c.name == id_or_name), None)
        if found is None:
            raise docker.errors.NotFound(f"no container {id_or_name}")
        return found

    def list(self, all: bool = False, filters: dict[str, Any] | None = None, **kwargs: Any) -> list[FakeContainer]:
        wanted = [label.split("=", 1) for label in (filters or {}).get("label", [])]
        return [c for c in self.items.values() if (all or c.status == "running")
                and all_labels(c.labels, wanted)]


def all_labels(labels: dict[str, str], wanted: list[list[str]]) -> bool:
    return all(key in labels and (len(rest) == 0 or labels[key] == rest[0]) for key, *rest in wanted)


@dataclass
class FakeImage:
    attrs: dict[str, Any]


class FakeImages:
    """Images the engine has: ref -> inspect data. A ref it lacks cannot be pulled either."""

    def __init__(self) -> None:
        self.items: dict[str, FakeImage] = {}

    def add(self, ref: str, image_id: str, user: str = "65534:65534") -> None:
        self.items[ref] = FakeImage({"Id": image_id, "Config": {"User": user, "Labels": {}}})

    def get(self, ref: str) -> FakeImage:
        if ref not in self.items:
            raise docker.errors.ImageNotFound(f"no such image: {ref}")
        return self.items[ref]

    def pull(self, ref: str) -> FakeImage:
        raise docker.errors.NotFound(f"pull access denied for {ref}")


@dataclass
class FakeNetwork:
    networks: FakeNetworks
    name: str

    def remove(self) -> None:
        self.networks.names.discard(self.name)
        self.networks.client.actions.append(f"network remove {self.name}")


class FakeNetworks:
    def __init__(self, client: FakeClient) -> None:
        self.client = client
        self.names: set[str] = set()

    def list(self, names: list[str] | None = None, **kwargs: Any) -> list[Any]:
        return [FakeNetwork(self, n) for n in self.names if not names or n in names]

    def create(self, name: str, **kwargs: Any) -> None:
        self.names.add(name)
        self.client.actions.append(f"network create {name}")


@dataclass
class FakeVolume:
    volumes: FakeVolumes
    name: str
    attrs: dict[str, Any]

    def remove(self, force: bool = False) -> None:
        self.volumes.made.pop(self.name, None)
        self.volumes.client.actions.append(f"volume remove {self.name}")


class FakeVolumes:
    def __init__(self, client: FakeClient) -> None:
        self.client = client
        self.made: dict[str, dict[str, str]] = {}  # name -> labels

    def get(self, name: str) -> FakeVolume:
        if name not in self.made:
            raise docker.errors.NotFound(f"no volume {name}")
        return FakeVolume(self, name, {"Labels": dict(self.made[name])})

    def create(self, name: str, labels: dict[str, str] | None = None, **kwargs: Any) -> FakeVolume:
        self.made[name] = dict(labels or {})
        self.client.actions.append(f"volume create {name}")
        return self.get(name)

    def list(self, filters: dict[str, Any] | None = None) -> list[FakeVolume]:
        wanted = dict(label.split("=", 1) for label in (filters or {}).get("label", []))
        return [self.get(n) for n, labels in sorted(self.made.items())
                if all(labels.get(k) == v for k, v in wanted.items())]


class FakeClient:
    def __init__(self) -> None:
        self.actions: list[str] = []
        self.fail_start: set[str] = set()
        self.down = False  # dockerd went away: every call fails as docker-py's do then
        self.taken_ports: set[int | None] = set()  # host ports another program listens on
        self.containers = FakeContainers(self)
        self.networks = FakeNetworks(self)
        self.volumes = FakeVolumes(self)
        self.images = FakeImages()
        self.host_ports = itertools.count(32768)
        self.clock = itertools.count(0)
        self.api = self  # docker-py's low-level client: the inspect it answers

    def inspect_container(self, id_or_name: str) -> dict[str, Any]:
        return self.containers.get(id_or_name).attrs

    def close(self) -> None:
        pass


def fake_engine() -> tuple[Engine, FakeClient]:
    client = FakeClient()
    return Engine("fake", EngineSettings(host="unix:///nowhere.sock"), client), client  # type: ignore[arg-type]


class FakeRouter:
    """The balancer of one environment (router/nginx.NginxRouter's surface): each new state it is
    given is logged in the engine's action list, so a test sees the exact interleaving of
    container actions and traffic switches."""

    def __init__(self, actions: list[str], state: RouterState | None = None) -> None:
        self.actions = actions
        self.state = state
        self.running = state is not None

    def current(self) -> RouterState | None:
        return self.state

    def pid(self) -> int | None:
        return 4242 if self.running else None

    def apply(self, state: RouterState, wait: float = 5.0) -> float:
        def name(side: Side | None) -> str:
            return f"{side.color}({side.release}, {len(side.servers)})" if side else "-"

        self.actions.append(f"route live={name(state.live)} preview={name(state.preview)}")
        self.state, self.running = state, True
        return 0.001

    def wait_drained(self, timeout: float) -> bool:
        self.actions.append("drained")
        return True

    def remove(self, timeout: float = 10.0) -> bool:
        if self.state is None:
            return False
        self.actions.append("balancer removed")
        self.state, self.running = None, False
        return True


class FakeEdge:
    """The host's edge (router/edge.Edge's surface), keeping routes in memory with the real claim
    rule; each change is logged in the engine's action list beside the container actions."""

    def __init__(self, actions: list[str]) -> None:
        self.actions = actions
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
        self.routes[(route.app, route.env)] = route
        self.actions.append(f"edge {','.join(route.domains)} -> {','.join(route.servers) or '-'}")
        return True

    def withdraw(self, app: str, env: str) -> bool:
        if self.routes.pop((app, env), None) is None:
            return False
        self.actions.append(f"edge withdraw {app}/{env}")
        return True

    def wait_drained(self, timeout: float) -> bool:
        self.actions.append("edge drained")
        return True

    def route(self, app: str, env: str) -> EdgeRoute | None:
        return self.routes.get((app, env))

    def secure(self, route: EdgeRoute) -> tuple[EdgeRoute, str | None]:
        return route, None

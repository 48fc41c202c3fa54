"""A fake Docker engine for unit tests of the orchestration: the part of docker-py's client that
deploy/ uses, in memory, recording every action in order (the way plan/ is tested by equality)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import docker.errors

from dockyard.engine.client import Engine
from dockyard.settings import EngineSettings


@dataclass
class FakeContainer:
    client: FakeClient
    id: str
    name: str
    labels: dict[str, str]
    kwargs: dict[str, Any]
    status: str = "created"
    attrs: dict[str, Any] = field(default_factory=dict)

    def _log(self, action: str) -> None:
        self.client.actions.append(f"{action} {self.name}")

    def start(self) -> None:
        if self.name in self.client.fail_start:
            raise docker.errors.APIError(f"cannot start {self.name}")
        self.status = "running"
        self._log("start")

    def stop(self, timeout: int = 10) -> None:
        self.status = "exited"
        self._log("stop")

    def remove(self, force: bool = False) -> None:
        self._log("remove")
        self.client.containers.items.pop(self.id, None)

    def rename(self, name: str) -> None:
        self.client.actions.append(f"rename {self.name} -> {name}")
        self.name = name

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

    def create(self, **kwargs: Any) -> FakeContainer:
        container = FakeContainer(self.client, next(self.ids), kwargs["name"], dict(kwargs.get("labels") or {}), kwargs)
        self.items[container.id] = container
        self.client.actions.append(f"create {container.name}")
        return container

    def get(self, container_id: str) -> FakeContainer:
        if container_id not in self.items:
            raise docker.errors.NotFound(f"no container {container_id}")
        return self.items[container_id]

    def list(self, **kwargs: Any) -> list[FakeContainer]:
        return list(self.items.values())


class FakeNetworks:
    def __init__(self, client: FakeClient) -> None:
        self.client = client
        self.names: set[str] = set()

    def list(self, names: list[str] | None = None, **kwargs: Any) -> list[Any]:
        return [type("Net", (), {"name": n})() for n in self.names if not names or n in names]

    def create(self, name: str, **kwargs: Any) -> None:
        self.names.add(name)
        self.client.actions.append(f"network create {name}")


class FakeClient:
    def __init__(self) -> None:
        self.actions: list[str] = []
        self.fail_start: set[str] = set()
        self.containers = FakeContainers(self)
        self.networks = FakeNetworks(self)

    def close(self) -> None:
        pass


def fake_engine() -> tuple[Engine, FakeClient]:
    client = FakeClient()
    return Engine("fake", EngineSettings(host="unix:///nowhere.sock"), client), client  # type: ignore[arg-type]

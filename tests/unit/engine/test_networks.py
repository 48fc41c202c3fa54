"""The environment's network is made sure of in one request, whether it is there or not: the create
itself (check_duplicate), its 409 saying it exists. Only a network made now looks for the old name's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import docker.errors
import pytest
import requests

from dockyard.engine.networks import ensure_network
from dockyard.errors import EngineError


def refused(status: int) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError(f"{status}", response=response, explanation="said the engine")


@dataclass
class Api:
    failure: docker.errors.APIError | None = None
    calls: list[str] = field(default_factory=list)

    def create_network(self, name: str, **kwargs: Any) -> dict[str, str]:
        self.calls.append(f"create {name} {sorted(kwargs['labels'].items())} {kwargs['check_duplicate']}")
        if self.failure is not None:
            raise self.failure
        return {"Id": "n1"}


class Networks:
    def __init__(self, api: Api) -> None:
        self.api = api

    def list(self, names: list[str]) -> list[Any]:
        self.api.calls.append(f"list {names}")
        return []


class Client:
    def __init__(self, api: Api) -> None:
        self.api, self.networks = api, Networks(api)


@dataclass
class Handle:
    client: Client
    name: str = "local"


LABELS = "[('dockyard.app', 'shop'), ('dockyard.env', 'prod'), ('dockyard.managed', '1')]"


def test_a_network_that_exists_costs_one_request() -> None:
    api = Api(failure=refused(409))
    assert ensure_network(Handle(Client(api)), "shop", "prod") == "dockyard_shop_prod"
    assert api.calls == [f"create dockyard_shop_prod {LABELS} True"]


def test_a_network_made_now_looks_for_the_one_of_the_old_name() -> None:
    api = Api()
    assert ensure_network(Handle(Client(api)), "shop", "prod") == "dockyard_shop_prod"
    assert api.calls == [f"create dockyard_shop_prod {LABELS} True", "list ['dockyard-shop-prod']"]


def test_another_refusal_is_an_engine_error() -> None:
    with pytest.raises(EngineError, match="creating network dockyard_shop_prod"):
        ensure_network(Handle(Client(Api(failure=refused(500)))), "shop", "prod")

"""A replica's container is created in one request: docker-py's containers.create inspects what it
made, which nothing reads (the health wait inspects it once it runs). A name held is NameTaken."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from dockyard.engine.containers import ReplicaSpec, replica_labels
from dockyard.engine.interface import NameTaken
from dockyard.engine.lifecycle import create

SPEC = ReplicaSpec(app="shop", env="prod", service="web", replica=1, image="shop@sha256:" + "1" * 64,
                   release_id="r1", config_hash="h", config_revision=3, commit="abc", command=["httpd", "-f"],
                   port=8080, cpus=0.5, memory=None, user="65534:65534", host_port=41000)


class Api:
    api_version = "1.41"

    def __init__(self, failure: str | None = None) -> None:
        self.failure = failure
        self.requests: list[dict[str, Any]] = []

    def create_container(self, **arguments: Any) -> dict[str, str]:
        self.requests.append(arguments)
        if self.failure:
            raise docker.errors.APIError("409 Client Error", explanation=self.failure)
        return {"Id": "c" * 64, "Warnings": []}


class Client:
    def __init__(self, api: Api) -> None:
        self.api = api

    def __getattr__(self, name: str) -> Any:  # containers.get, inspect...: not asked for
        raise AssertionError(f"client.{name} was used")


def test_one_request_and_the_facts_dockyard_set() -> None:
    api = Api()
    made = create(Client(api), SPEC, "shop_prod_web_1")
    assert (made.id, made.name, dict(made.labels), made.image) == ("c" * 64, "shop_prod_web_1", replica_labels(SPEC),
                                                                   SPEC.image)
    assert (made.status, made.running, made.asks_ports, made.nano_cpus) == ("created", False, True, 500_000_000)
    [sent] = api.requests
    assert (sent["name"], sent["image"], sent["networking_config"]) == ("shop_prod_web_1", SPEC.image,
                                                                        {"dockyard_shop_prod": None})


def test_a_name_held_is_name_taken() -> None:
    with pytest.raises(NameTaken, match="creating shop_prod_web_1"):
        create(Client(Api('Conflict. The container name "/shop_prod_web_1" is already in use')), SPEC,
               "shop_prod_web_1")

"""A start the engine fails because the host port it picked is taken is PortTaken (the executor then
starts it again, tests/unit/deploy/test_executor_fake.py); other failures go through as they are."""

from __future__ import annotations

import docker.errors
import pytest

from dockyard.engine.interface import PortTaken
from dockyard.engine.lifecycle import start

TAKEN = ("driver failed programming external connectivity on endpoint app-web-1: Error starting userland "
         "proxy: listen tcp4 127.0.0.1:32777: bind: address already in use")


class FlakyApi:
    """docker-py's low-level API: the start is one request, no inspect before it."""

    def __init__(self, failure: str) -> None:
        self.failure = failure

    def start(self, _id: str) -> None:
        raise docker.errors.APIError("500 Server Error", explanation=self.failure)


class Client:
    def __init__(self, failure: str) -> None:
        self.api = FlakyApi(failure)


@pytest.mark.parametrize("said", [TAKEN, "Bind for 127.0.0.1:8000 failed: port is already allocated"])
def test_a_taken_port_is_port_taken(said: str) -> None:
    with pytest.raises(PortTaken, match="starting web"):
        start(Client(said), "c1", "web")


def test_other_failures_are_the_engines_own() -> None:
    with pytest.raises(docker.errors.APIError, match="not found"):
        start(Client('OCI runtime create failed: exec: "nope": not found'), "c1", "web")

"""A start the engine fails because the host port it picked is taken is tried again; other failures are not."""

from __future__ import annotations

import docker.errors
import pytest

from dockyard.engine.start import start_with_free_port

TAKEN = ("driver failed programming external connectivity on endpoint app-web-1: Error starting userland "
         "proxy: listen tcp4 127.0.0.1:32777: bind: address already in use")


class FlakyContainer:
    def __init__(self, failures: list[str]) -> None:
        self.failures = failures
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        if self.failures:
            raise docker.errors.APIError("500 Server Error", explanation=self.failures.pop(0))


def test_a_taken_port_is_tried_again_until_the_engine_picks_a_free_one() -> None:
    container = FlakyContainer([TAKEN, TAKEN])
    start_with_free_port(container)  # type: ignore[arg-type]
    assert container.starts == 3


def test_gives_up_after_the_last_try() -> None:
    container = FlakyContainer([TAKEN] * 3)
    with pytest.raises(docker.errors.APIError, match="address already in use"):
        start_with_free_port(container, tries=3)  # type: ignore[arg-type]
    assert container.starts == 3


def test_other_failures_are_not_retried() -> None:
    container = FlakyContainer(["OCI runtime create failed: exec: \"nope\": not found"])
    with pytest.raises(docker.errors.APIError, match="not found"):
        start_with_free_port(container)  # type: ignore[arg-type]
    assert container.starts == 1

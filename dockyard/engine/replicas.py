"""Read the containers of an engine as ReplicaFacts: the running ones by a selector, one inspect,
and the stream of container events, in docker-py's calls (listing.py lists by Dockyard's labels).

Each function takes docker-py's client and lets its failures through; `Engine`'s verbs
(engine/client.py) translate them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import docker.errors

from dockyard.engine.api import DockerError
from dockyard.engine.facts import ContainerEvent, EventStream, ReplicaFacts, container_event, replica_facts
from dockyard.engine.failures import engine_error

__all__ = ["events", "inspect", "running"]


def running(client: Any, selector: Mapping[str, str]) -> list[ReplicaFacts]:
    """The running containers whose labels match `selector` (KEY=VALUE, or KEY alone when the value is
    empty); one that went between the listing and its inspect is left out."""
    filters: dict[str, Any] = {"status": "running"}
    if selector:
        filters["label"] = [f"{k}={v}" if v else k for k, v in selector.items()]
    found = (inspect(client, summary["Id"]) for summary in client.api.containers(filters=filters))
    return [facts for facts in found if facts is not None]


def inspect(client: Any, container_id: str) -> ReplicaFacts | None:
    """The container as inspected now; None when it is gone."""
    try:
        return replica_facts(client.api.inspect_container(container_id))
    except docker.errors.NotFound:
        return None


def events(client: Any, since: int) -> EventStream:
    """Container events from `since` (epoch seconds) on."""
    return ParsedEvents(client.api.events(since=since, decode=True, filters={"type": "container"}))


class ParsedEvents:
    """docker-py's event stream, each event read as a ContainerEvent."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def __iter__(self) -> Iterator[ContainerEvent]:
        try:
            for event in self.raw:
                yield container_event(event)
        except DockerError as exc:  # the engine went away under the stream
            raise engine_error("following the engine's events", exc) from exc

    def close(self) -> None:
        self.raw.close()

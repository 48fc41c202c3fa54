"""Start a container whose ports the engine picks.

An engine chooses a published port from the host's ephemeral range without knowing who else
listens there (another engine on the same host, a local program); it then fails the start with
"address already in use". Starting again makes it pick the next port, so a few tries settle it.
"""

from __future__ import annotations

import docker.errors
from docker.models.containers import Container

PORT_TRIES = 5


def start_with_free_port(container: Container, tries: int = PORT_TRIES) -> None:
    for attempt in range(1, tries + 1):
        try:
            container.start()
            return
        except docker.errors.APIError as exc:
            if attempt == tries or not port_taken(exc):
                raise


def port_taken(exc: docker.errors.APIError) -> bool:
    return "address already in use" in str(exc.explanation or exc)

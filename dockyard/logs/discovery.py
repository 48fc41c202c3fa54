"""Find containers: the engine's event stream (prompt) plus a scan of the log folder (complete).

Events only wake the reader: what is there is always read from the folder, so a lost event, an
engine restart or a forwarder without the Docker socket still follows every container.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

WAKE_EVENTS = {"create", "start", "restart", "die", "destroy"}


def container_ids(root: Path) -> set[str]:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return set()
    return {n for n in names if len(n) == 64 and all(c in "0123456789abcdef" for c in n)}


class EventWatcher:
    """Sets `wake` whenever the engine reports a container event. Reconnects after errors."""

    def __init__(self, docker_host: str, wake: threading.Event) -> None:
        self.docker_host = docker_host
        self.wake = wake
        self.client: Any = None
        self.connected = False

    def run(self, stop: threading.Event) -> None:
        import docker

        while not stop.is_set():
            try:
                self.client = docker.DockerClient(base_url=self.docker_host, version="auto", timeout=None)
                stream = self.client.events(decode=True, filters={"type": "container"})
                self.connected = True
                self.wake.set()  # events may have been missed while disconnected
                for event in stream:
                    if stop.is_set():
                        break
                    if event.get("status") in WAKE_EVENTS or event.get("Action") in WAKE_EVENTS:
                        self.wake.set()
            except Exception as exc:  # engine down or restarted: the folder scan still covers us
                log.debug("docker events: %s", exc)
            finally:
                self.connected = False
                self.close()
            stop.wait(1.0)

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                client.close()
            except Exception:
                pass


def engine_host_name(docker_host: str) -> str | None:
    """The Docker host's own name (what `docker info` calls Name), or None."""
    import docker

    try:
        client = docker.DockerClient(base_url=docker_host, version="auto", timeout=5)
        try:
            return str(client.info().get("Name") or "") or None
        finally:
            client.close()
    except Exception:
        return None


def wait_until(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())

"""The engine's container events, as a wake-up for the log forwarder, and the host's own name.

Events only wake the reader (logs/discovery.py scans the log folder for what is there), so the
watcher reconnects quietly after an engine restart. A unix:// engine is read with the standard
library (local_socket.py: the agent holds no docker-py); any other through docker-py.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from typing import Any

from dockyard.engine.local_socket import socket_path
from dockyard.engine.wire import Wire
from dockyard.settings_base import EngineSettings

__all__ = ["EventWatcher", "WAKE_EVENTS", "engine_host_name"]

log = logging.getLogger(__name__)

WAKE_EVENTS = {"create", "start", "restart", "die", "destroy"}


class EventWatcher:
    """Sets `wake` whenever the engine reports a container event. Reconnects after errors."""

    def __init__(self, docker_host: str, wake: threading.Event) -> None:
        self.docker_host = docker_host
        self.wake = wake
        self.client: Any = None  # docker-py's client, or the stream over the unix socket
        self.connected = False

    def _events(self) -> Iterable[dict[str, Any]]:
        path = socket_path(self.docker_host)
        if path is not None:
            stream = Wire(EngineSettings(host=self.docker_host)).stream(
                "/events", {"filters": json.dumps({"type": ["container"]})})
            self.client = stream  # what close() closes: the stream's own connection
            return stream
        import docker

        self.client = docker.DockerClient(base_url=self.docker_host, version="auto", timeout=None)
        return self.client.events(decode=True, filters={"type": "container"})  # type: ignore[no-any-return]

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                stream = self._events()
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
    try:
        path = socket_path(docker_host)
        if path is not None:
            reads = Wire(EngineSettings(host=docker_host), timeout=5)
            try:
                return str((reads.get("/info") or {}).get("Name") or "") or None
            finally:
                reads.close()
        import docker

        client = docker.DockerClient(base_url=docker_host, version="auto", timeout=5)
        try:
            return str(client.info().get("Name") or "") or None
        finally:
            client.close()
    except Exception:
        return None

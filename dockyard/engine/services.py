"""Swarm service requests docker-py has no public call for: an update with the whole spec (and
Swarm's own rollback), a service's log stream with its stream ids, and one task's logs.

Built on the client's public parts only (its requests session, `base_url`, `api_version` and
`docker.errors.create_api_error_from_http_exception`), so any docker 7.x serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import docker.errors
import requests

from dockyard.engine.failures import Handle
from dockyard.engine.swarm_writes import post_update

__all__ = ["frames", "scale_service", "service_log_frames", "task_logs_text", "update_service"]


def _url(engine: Handle, path: str, object_id: str) -> str:
    api = engine.client.api
    return f"{api.base_url}/v{api.api_version}{path.format(quote(object_id, safe=''))}"


def _checked(response: requests.Response) -> requests.Response:
    try:
        response.raise_for_status()
    except requests.exceptions.HTTPError as exc:
        raise docker.errors.create_api_error_from_http_exception(exc) from exc
    return response


def update_service(engine: Handle, service_id: str, spec: dict[str, Any], version: int,
                   rollback: bool = False) -> None:
    """Replace a service's whole spec (engine/swarm_writes.py post_update)."""
    post_update(engine.client, service_id, spec, version, rollback)


def scale_service(engine: Handle, service_id: str, replicas: int, labels: dict[str, str | None] | None = None
                  ) -> dict[str, Any]:
    """Set a replicated service's replica count (and labels: None removes one) on its current spec;
    the spec sent, for a wait on its tasks."""
    attrs = engine.client.api.inspect_service(service_id)
    body: dict[str, Any] = attrs["Spec"]
    body["Mode"] = {"Replicated": {"Replicas": replicas}}
    for key, value in (labels or {}).items():
        if value is None:
            body.setdefault("Labels", {}).pop(key, None)
        else:
            body.setdefault("Labels", {})[key] = value
    update_service(engine, service_id, body, attrs["Version"]["Index"])
    return body


def frames(raw: Any) -> Iterator[tuple[int, bytes]]:
    """The Engine's multiplexed log stream: an 8-byte header (stream, 0, 0, 0, size big-endian)
    before each payload. docker-py's service_logs drops which stream a line came from."""
    while True:
        header = raw.read(8)
        if len(header) < 8:
            return
        size = int.from_bytes(header[4:8], "big")
        yield header[0], raw.read(size) if size else b""


def service_log_frames(engine: Handle, service_id: str, since_ns: int | None, tail: int | str, follow: bool
                       ) -> Iterator[tuple[int, bytes]]:
    """(stream, payload) of a service's logs as the manager gathers them from every node."""
    params = {"details": 1, "stdout": 1, "stderr": 1, "timestamps": 1, "tail": tail, "follow": int(follow),
              "since": f"{since_ns / 1e9:.9f}" if since_ns else 0}
    response = _checked(engine.client.api.get(_url(engine, "/services/{}/logs", service_id),
                                              params=params, stream=True))
    return frames(response.raw)


def task_logs_text(engine: Handle, task_id: str, lines: int) -> str:
    """The last `lines` lines of one Swarm task, stdout and stderr together."""
    response = _checked(engine.client.api.get(
        _url(engine, "/tasks/{}/logs", task_id),
        params={"stdout": 1, "stderr": 1, "tail": lines, "timestamps": 0}, stream=True))
    return b"".join(payload for _, payload in frames(response.raw)).decode(errors="replace")

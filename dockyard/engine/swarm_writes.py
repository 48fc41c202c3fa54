"""Swarm services, configs and secrets of a deploy, in docker-py's calls: create, update, inspect,
roll back and remove a service; list, create and remove the configs and secrets it mounts.

Each function takes docker-py's client and lets its failures through; `Engine`'s verbs
(engine/client.py) translate them.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import docker.errors
import requests

from dockyard.engine import labels as L
from dockyard.engine.swarm_facts import ServiceFact, parse_service
from dockyard.engine.swarm_spec import create_kwargs
from dockyard.errors import EngineError

__all__ = ["create", "files", "inspect", "make_file", "post_update", "remove", "remove_file", "roll_back", "update"]

ROLLED_BACK = ("rollback_completed", "rollback_paused")


def create(client: Any, body: dict[str, Any]) -> str:
    return str(client.api.create_service(**create_kwargs(body))["ID"])


def update(client: Any, service_id: str, version: int, body: dict[str, Any]) -> None:
    client.api.update_service(service_id, version, **create_kwargs(body))


def inspect(client: Any, service_id: str) -> ServiceFact:
    return parse_service(client.api.inspect_service(service_id))


def remove(client: Any, service_id: str) -> None:
    """Swarm stops its tasks, each with its stop grace period. Gone already is fine."""
    try:
        client.api.remove_service(service_id)
    except docker.errors.NotFound:
        pass


def roll_back(client: Any, service_id: str, wait: float) -> None:
    """Swarm's own rollback to the service's previous spec (unless one runs), until it is done."""
    attrs = client.api.inspect_service(service_id)
    if (attrs.get("UpdateStatus") or {}).get("State") not in ("rollback_started", "rollback_completed"):
        post_update(client, service_id, attrs["Spec"], attrs["Version"]["Index"], rollback=True)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if inspect(client, service_id).update_state in ROLLED_BACK:
            return
        time.sleep(0.5)
    raise EngineError(f"service {service_id[:12]}: rollback did not complete in {wait:.0f}s")


def post_update(client: Any, service_id: str, spec: dict[str, Any], version: int, rollback: bool = False) -> None:
    """Replace a service's whole spec (docker-py's update_service rebuilds it from parts and
    cannot ask for Swarm's own rollback to the previous spec). Built on the client's public parts
    (its requests session, `base_url`, `api_version`), so any docker 7.x serves."""
    api = client.api
    params: dict[str, Any] = {"version": version}
    if rollback:
        params["rollback"] = "previous"
    url = f"{api.base_url}/v{api.api_version}/services/{quote(service_id, safe='')}/update"
    response = api.post(url, json=spec, params=params)
    try:
        response.raise_for_status()
    except requests.exceptions.HTTPError as exc:
        raise docker.errors.create_api_error_from_http_exception(exc) from exc


def _kind(client: Any, kind: str) -> Any:
    api = client.api
    return {"config": (api.configs, api.create_config, api.remove_config),
            "secret": (api.secrets, api.create_secret, api.remove_secret)}[kind]


def files(client: Any, kind: str, app: str, env: str) -> dict[str, str]:
    """The app's configs (kind "config") or secrets ("secret") of one environment: name -> id."""
    listing = _kind(client, kind)[0]
    found = listing(filters={"label": [f"{L.MANAGED}=1", f"{L.APP}={app}", f"{L.ENV}={env}"]})
    return {o["Spec"]["Name"]: o["ID"] for o in found}


def make_file(client: Any, kind: str, name: str, data: bytes, labels: dict[str, str]) -> str:
    return str(_kind(client, kind)[1](name, data, labels=labels)["ID"])


def remove_file(client: Any, kind: str, object_id: str) -> bool:
    """False while a task that is shutting down still uses it (the next deploy removes it)."""
    try:
        _kind(client, kind)[2](object_id)
    except docker.errors.APIError:
        return False
    return True

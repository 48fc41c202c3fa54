"""One bridge network per app and environment (issue 12, finding 11): on the default bridge every
container of every app could reach every other by its address."""

from __future__ import annotations

import threading

import docker.errors

from dockyard.engine import labels as L
from dockyard.engine.client import Engine, engine_error
from dockyard.engine.containers import network_name

_CREATING = threading.Lock()  # replicas start in parallel threads; Docker allows duplicate names


def ensure_network(engine: Engine, app: str, env: str) -> str:
    """The app's environment network, created (labelled) when missing; its name."""
    name = network_name(app, env)
    try:
        with _CREATING:
            if any(n.name == name for n in engine.client.networks.list(names=[name])):
                return name
            try:
                engine.client.networks.create(name, driver="bridge", check_duplicate=True,
                                              labels={L.MANAGED: "1", L.APP: app, L.ENV: env})
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # another deploy made it in between
                    raise
    except docker.errors.DockerException as exc:
        raise engine_error(f"creating network {name}", exc) from exc
    return name


def remove_networks(engine: Engine, app: str, env: str | None = None) -> list[str]:
    """Remove the app's (environment's) networks that no container uses any more."""
    filters = {"label": [f"{L.APP}={app}", f"{L.MANAGED}=1"] + ([f"{L.ENV}={env}"] if env else [])}
    removed = []
    for network in engine.client.networks.list(filters=filters):
        try:
            network.remove()
            removed.append(network.name or "")
        except docker.errors.APIError:
            pass  # still in use
    return removed

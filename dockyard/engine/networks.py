"""One bridge network per app and environment (issue 12, finding 11): on the default bridge every
container of every app could reach every other by its address."""

from __future__ import annotations

import docker.errors

from dockyard.engine import labels as L
from dockyard.engine.api import DockerError
from dockyard.engine.client import Engine, engine_error
from dockyard.engine.containers import network_name


def ensure_network(engine: Engine, app: str, env: str) -> str:
    """The app's environment network, created (labelled) when missing; its name."""
    name = network_name(app, env)
    try:
        # `names` matches by prefix: compare exactly. check_duplicate: Docker would otherwise allow two
        # networks of one name (deploys of one environment are serialised by the env lock anyway).
        if any(n.name == name for n in engine.client.networks.list(names=[name])):
            return name
        try:
            engine.client.networks.create(name, driver="bridge", check_duplicate=True,
                                          labels={L.MANAGED: "1", L.APP: app, L.ENV: env})
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # made in between
                raise
    except DockerError as exc:
        raise engine_error(f"creating network {name}", exc) from exc
    return name



def remove_network(engine: Engine, app: str, env: str) -> bool:
    """Remove the app's environment network (its containers gone first). False if there was none."""
    name = network_name(app, env)
    try:
        found = [n for n in engine.client.networks.list(names=[name]) if n.name == name]
        for network in found:
            network.remove()
    except docker.errors.NotFound:
        return False
    except DockerError as exc:
        raise engine_error(f"removing network {name}", exc) from exc
    return bool(found)

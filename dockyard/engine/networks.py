"""One bridge network per app and environment (issue 12, finding 11): on the default bridge every
container of every app could reach every other by its address."""

from __future__ import annotations

import docker.errors

from dockyard.engine import labels as L
from dockyard.engine.api import DockerError
from dockyard.engine.containers import legacy_network_name, network_name
from dockyard.engine.failures import Handle, engine_error


def _named(engine: Handle, name: str) -> list:  # type: ignore[type-arg]
    # `names` matches by prefix: compare exactly
    return [n for n in engine.client.networks.list(names=[name]) if n.name == name]


def ensure_network(engine: Handle, app: str, env: str) -> str:
    """The app's environment network, created (labelled) when missing; its name. The containers of a
    network of the name before issue 28 (labelled for this app and environment) join it, an
    accessory under its alias, so old and new replicas and accessories reach each other."""
    name = network_name(app, env)
    try:
        # One request whether it is there or not: check_duplicate makes the engine refuse a second
        # network of the name (409) rather than allow it, and that refusal says it exists.
        try:
            engine.client.api.create_network(name, driver="bridge", check_duplicate=True,
                                             labels={L.MANAGED: "1", L.APP: app, L.ENV: env})
        except docker.errors.APIError as exc:
            if exc.status_code != 409:
                raise
            return name
        for legacy in _named(engine, legacy_network_name(app, env)):
            labels = legacy.attrs.get("Labels") or {}
            if (labels.get(L.APP), labels.get(L.ENV)) != (app, env):
                continue  # another (app, env) whose old name met this one's: not ours to join
            # stopped ones too (a network's inspect data lists only running containers)
            for found in engine.client.containers.list(all=True, filters={"network": legacy.name}):
                accessory = (found.labels or {}).get(L.ACCESSORY)
                engine.client.api.connect_container_to_network(found.id, name,
                                                               aliases=[accessory] if accessory else None)
    except DockerError as exc:
        raise engine_error(f"creating network {name}", exc) from exc
    return name



def remove_network(engine: Handle, app: str, env: str) -> bool:
    """Remove the app's environment network (its containers gone first). False if there was none."""
    name = network_name(app, env)
    try:
        found = _named(engine, name) + [n for n in _named(engine, legacy_network_name(app, env))
                                        if (n.attrs.get("Labels") or {}).get(L.APP) == app
                                        and (n.attrs.get("Labels") or {}).get(L.ENV) == env]
        for network in found:
            network.remove()
    except docker.errors.NotFound:
        return False
    except DockerError as exc:
        raise engine_error(f"removing network {name}", exc) from exc
    return bool(found)

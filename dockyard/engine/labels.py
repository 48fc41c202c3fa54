"""Names and labels: the state that lives in the engine.

Every container Dockyard makes carries these labels, so what is live can always be read
back from the engine (after a crash, from another machine) without Dockyard's database.
"""

from __future__ import annotations

MANAGED = "dockyard.managed"
APP = "dockyard.app"
ENV = "dockyard.env"
SERVICE = "dockyard.service"
REPLICA = "dockyard.replica"
RELEASE = "dockyard.release"
CONFIG_HASH = "dockyard.config-hash"
COMMIT = "dockyard.commit"
CONFIG_REVISION = "dockyard.config-revision"
SECRETS_DIR = "dockyard.secrets-dir"
COLOR = "dockyard.color"  # blue | green, only on containers of blue-green environments
# How the release that made the container judges its health (deploy/health.py probe_label): ps and
# status judge a replica by its own release's spec, not by the dockyard.yml of the working tree.
HEALTH = "dockyard.health"
# On a Swarm worker service of a standby colour scaled to 0 (router.workers: stop): the replica count a
# rollback scales it back to. Containers need none: a stopped container is still there to start.
PARKED = "dockyard.parked"
VOLUME = "dockyard.volume"  # a volume's name in its service (engine/volumes.py)
# A restore's staging volume (engine/volume_swap.py): its restore's id; app and env beside it, never
# SERVICE or VOLUME, so nothing takes it for the volume it is swapped into.
RESTORE = "dockyard.restore"
# An accessory's container (engine/accessories.py): app, env, service (its name) and this, never
# MANAGED, so no deploy, rollback, scale or switch of the app's replicas sees it.
ACCESSORY = "dockyard.accessory"
# A one-off task's container (deploy/release_task.py): app, env, service (whose settings it runs
# with), release and this (its kind: release), never MANAGED: no deploy, scale or switch sees it.
TASK = "dockyard.task"


def release_labels(app: str, env: str, service: str, release: str, config_hash: str, config_revision: int,
                   commit: str | None = None, color: str | None = None, **more: str | None) -> dict[str, str]:
    """The labels of what runs a release of a service, a container or a Swarm service alike (the
    empty ones left out): how every reader finds and judges it."""
    labels = {MANAGED: "1", APP: app, ENV: env, SERVICE: service, RELEASE: release, CONFIG_HASH: config_hash,
              CONFIG_REVISION: str(config_revision), COMMIT: commit, COLOR: color, **more}
    return {key: value for key, value in labels.items() if value}


def loopback_port(attrs: dict, container_port: int | None = None) -> int | None:
    """The 127.0.0.1 host port a container publishes (its `container_port`, else the first one),
    parsed from inspect data: the one parser of published ports for deploy, blue/green and health."""
    ports = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    wanted = [ports.get(f"{container_port}/tcp")] if container_port else list(ports.values())
    for bindings in wanted:
        for binding in bindings or []:
            if binding.get("HostIp") in ("127.0.0.1", "") and binding.get("HostPort"):
                return int(binding["HostPort"])
    return None


def publishes(attrs: dict) -> bool:
    """The container was made with a published port (kept while it is stopped, unlike the bindings)."""
    return bool((attrs.get("HostConfig") or {}).get("PortBindings")) or loopback_port(attrs) is not None


def scoped_name(app: str, env: str, *parts: object) -> str:
    """The one scheme of every name built from an app and an environment (issue 28): '_' is in no
    app, environment, service or volume name, so no two of them meet (app a-b env c, app a env b-c).
    The labels, not the names, say what a resource is; a name only has to be unique."""
    return "_".join(str(part) for part in (app, env, *parts))


def container_name(app: str, env: str, service: str, replica: int, color: str | None = None) -> str:
    return scoped_name(app, env, service, color, replica) if color else scoped_name(app, env, service, replica)


def accessory_container_name(app: str, env: str, name: str) -> str:
    """An accessory is one per environment: no replica number (a replica's name always ends in one)."""
    return scoped_name(app, env, name)


def data_node_label(app: str, env: str, service: str) -> str:
    """The node label a Swarm service with volumes is pinned by (its tasks run where its data is)."""
    return f"dockyard.data.{app}.{env}.{service}"


def volume_name(app: str, env: str, service: str, name: str) -> str:
    """Names hold no '_': no two (app, env, service, volume) share one (app a-b env c, app a env b-c)."""
    return "dockyard_" + scoped_name(app, env, service, name)


def scope_filters(app: str | None = None, env: str | None = None, service: str | None = None) -> dict:
    """docker-py `filters` selecting Dockyard's containers of one app/env/service."""
    labels = [f"{MANAGED}=1"]
    labels += [f"{key}={value}" for key, value in ((APP, app), (ENV, env), (SERVICE, service)) if value]
    return {"label": labels}

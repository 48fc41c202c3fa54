"""One-off containers of a release: the release task (deploy/release_task.py) and `dockyard run`.

Made from the release's workload, as a replica of one of its services would be (the environment's
configuration, secrets, rendered files, that service's user, resources, volumes and env, the
environment's network where its accessories answer by name), with its own command, no published
port, no restart, and the `dockyard.task` label instead of `dockyard.managed`, so no deploy, scale
or switch takes it for a replica.
"""

from __future__ import annotations

from dataclasses import replace

from dockyard.deploy.executor import Workload, files_archive
from dockyard.engine import labels as L
from dockyard.engine.facts import ReplicaFacts
from dockyard.engine.interface import Engine
from dockyard.engine.secretfiles import remove_secret_files, write_secret_files
from dockyard.errors import EngineError

__all__ = ["create_one_off", "remove_one_off"]


def create_one_off(engine: Engine, workload: Workload, service: str, kind: str, command: list[str], name: str,
                   interactive: bool = False, environment: dict[str, str] | None = None) -> ReplicaFacts:
    """The container, made with its files in it, not started; `environment` adds to the service's."""
    base = workload.replicas[(service, 1)]
    spec = replace(base, task=kind, replica=0, command=list(command), port=None, host_port=None,
                   health_command=None, health_probe="", interactive=interactive,
                   environment={**base.environment, **(environment or {})})
    if workload.secret_files or workload.secret_bearing_files:
        directory, mounts = write_secret_files(workload.secret_files, spec.user, workload.secret_bearing_files)
        spec = replace(spec, secrets_dir=directory, file_mounts=mounts)
    engine.ensure_network(spec.app, spec.env)
    for volume, _, _ in spec.volumes:
        engine.ensure_volume(spec.app, spec.env, spec.service, volume)
    try:
        container = engine.create_replica(spec, name)
    except EngineError:
        remove_secret_files(spec.secrets_dir)
        raise
    try:
        if workload.files:
            engine.put_files(container.id, files_archive(workload.files), name)
    except EngineError:
        remove_one_off(engine, container)
        raise
    return container


def remove_one_off(engine: Engine, container: ReplicaFacts) -> None:
    """The container and its secret files."""
    try:
        engine.remove_replica(container.id, f"removing {container.name}")
    finally:
        remove_secret_files(container.labels.get(L.SECRETS_DIR))

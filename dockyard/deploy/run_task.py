"""`dockyard run ENV -- CMD`: a command in a one-off container of the environment's live release
(its image and configuration), removed when it ends; its exit code is the command's."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from dockyard.deploy.deployer import Deployer
from dockyard.deploy.executor import Workload
from dockyard.deploy.one_off import LOG_GRACE, create_one_off, remove_one_off
from dockyard.engine import labels as L
from dockyard.engine.facts import ReplicaFacts, TaskRun
from dockyard.engine.interface import Engine
from dockyard.errors import DeployError, EngineError, NotFound

KIND = "run"
NO_TIMEOUT = 365 * 86400.0  # a one-off runs until it ends; Ctrl-C removes it (finish)


def live_workload(deployer: Deployer, engine: Engine, env: str) -> tuple[str, Workload]:
    """The environment's live release id and what starts a container of it."""
    spec = deployer.spec
    live = deployer.db.live_release(spec.app, env)
    if live is None:
        raise NotFound(f"{spec.app}/{env} runs no release: there is nothing to run a command in",
                       hint=f"deploy it first: dockyard deploy {env}")
    resolved, files = deployer.resolve(env, live.config_revision)
    prepared = deployer.identify(engine, env, live.image, resolved, files)
    placement = deployer.placement(engine, env)
    workload = placement.describe(prepared, None)
    if not isinstance(workload, Workload):
        raise DeployError(f"{spec.app}/{env} runs on a {placement.kind} placement: dockyard run starts containers "
                          "on container engines only, for now", hint=f"dockyard exec {env} SERVICE -- CMD runs it "
                                                                     "in a running replica")
    return prepared.release_id, workload


def start_one_off(deployer: Deployer, engine: Engine, env: str, service: str, command: list[str],
                  interactive: bool = False, start: bool = True) -> ReplicaFacts:
    """A one-off container of the live release, made (and started unless `start` is False)."""
    deployer.spec.service(service)
    release_id, workload = live_workload(deployer, engine, env)
    name = L.scoped_name(deployer.spec.app, env, KIND, secrets.token_hex(4))
    container = create_one_off(engine, workload, service, KIND, command, name, interactive=interactive)
    if start:
        try:
            engine.start_replica(container.id, name)
        except EngineError:
            remove_one_off(engine, container)
            raise
    return container


def discard(engine: Engine, container: ReplicaFacts) -> None:
    """Remove it (after a run attached to a terminal), once the log forwarder had its grace."""
    time.sleep(LOG_GRACE)
    remove_one_off(engine, container)


def finish(engine: Engine, container: ReplicaFacts, progress: Callable[[str], None]) -> TaskRun:
    """Wait for it to end, its output passed on as it is written; then remove it (once the host's log
    forwarder had its grace to read it; at once when the wait was cut short, Ctrl-C)."""
    try:
        result = engine.await_task(container.id, container.name, NO_TIMEOUT, progress=progress)
    except BaseException:
        remove_one_off(engine, container)
        raise
    time.sleep(LOG_GRACE)
    remove_one_off(engine, container)
    return result

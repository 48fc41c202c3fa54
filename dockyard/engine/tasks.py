"""One-off tasks of a release (a release task: a migration) in docker-py's calls: wait for the
task's container to end, its output passed on as it is written, and find the task containers an
environment has (one left by a deploy that was killed waits there with its exit code).

The container itself is made and started with the replicas' verbs (engine/lifecycle.py), from a
ReplicaSpec with `task` set: the environment's configuration, secrets, files and network, no
published port, no restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import requests.exceptions

from dockyard.engine import labels as L
from dockyard.engine.api import DockerError, DockerNotFound
from dockyard.engine.facts import ReplicaFacts, TaskRun, replica_facts
from dockyard.engine.failures import Handle, engine_error
from dockyard.engine.testrun import FOLLOW_GRACE, MAX_OUTPUT, follow_output

__all__ = ["await_task", "task_containers"]


def await_task(engine: Handle, container_id: str, name: str, timeout: float,
               progress: Callable[[str], None] | None = None) -> TaskRun:
    """Wait for the task to end (killed at `timeout`); its exit code and the end of its output. A
    container that has already ended answers at once, with the exit code it ended with."""
    start = time.monotonic()
    api = engine.client.api
    follower: threading.Thread | None = None
    try:
        if progress is not None:
            follower = threading.Thread(target=follow_output, args=(engine, container_id, progress), daemon=True,
                                        name=f"task-{name}")
            follower.start()
        timed_out = False
        exit_code: int | None
        try:
            exit_code = int(api.wait(container_id, timeout=max(1, int(timeout)))["StatusCode"])
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            timed_out, exit_code = True, None
            api.kill(container_id)
        if follower is not None:
            follower.join(FOLLOW_GRACE)  # its stream ends with the container: the last lines arrive
        try:
            output = api.logs(container_id, stdout=True, stderr=True).decode(errors="replace")[-MAX_OUTPUT:]
        except DockerError as exc:  # the engine is removing it (a job's cleanup raced): its exit code still counts
            output = f"(its output could not be read: {exc})"
    except DockerError as exc:
        raise engine_error(f"running {name}", exc) from exc
    return TaskRun(exit_code, output, time.monotonic() - start, timed_out)


def task_containers(engine: Handle, app: str, env: str) -> list[ReplicaFacts]:
    """The environment's task containers, running or ended."""
    api = engine.client.api
    facts = []
    try:
        for row in api.containers(all=True, filters={"label": [L.TASK, f"{L.APP}={app}", f"{L.ENV}={env}"]}):
            try:
                facts.append(replica_facts(api.inspect_container(row["Id"])))
            except DockerNotFound:
                continue  # removed in between
    except DockerError as exc:
        raise engine_error(f"listing the task containers of {app}/{env}", exc) from exc
    return facts

"""One-off tasks of a release on a Swarm (a release task, a hook) in docker-py's calls: a service of
one task that is never restarted (engine/swarm_spec.one_off_body), waited for to its end, its
output passed on as it is written (read from its task's logs, on whichever node it ran), and the
one-off services an environment has (one a killed deploy left waits there with how it ended).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dockyard.engine import labels as L
from dockyard.engine.api import DockerError, DockerNotFound
from dockyard.engine.facts import ReplicaFacts, TaskRun, docker_time
from dockyard.engine.failures import Handle, engine_error
from dockyard.engine.services import task_logs_text
from dockyard.engine.swarm_facts import TaskFact, parse_task
from dockyard.engine.testrun import MAX_OUTPUT

__all__ = ["await_service_task", "task_services"]

ENDED = frozenset({"complete", "failed", "rejected", "shutdown", "orphaned", "remove"})
POLL = 0.25  # seconds between two looks at the task and its new lines
LOG_LINES = 100_000


def _task(engine: Handle, service_id: str) -> TaskFact | None:
    found = [parse_task(t) for t in engine.client.api.tasks(filters={"service": service_id})]
    return max(found, key=lambda t: t.created, default=None)


def _exit_code(task: TaskFact) -> int | None:
    if task.state == "complete":
        return 0
    return task.exit_code if task.exit_code is not None else (None if task.state in ("shutdown", "remove") else 1)


def await_service_task(engine: Handle, service_id: str, name: str, timeout: float,
                       progress: Callable[[str], None] | None = None) -> TaskRun:
    """Wait for the one task of a one-off service to end (its service scaled to 0 at `timeout`); its
    exit code and the end of its output. One that has ended already answers at once."""
    start = time.monotonic()
    said = 0
    output = ""
    try:
        while True:
            task = _task(engine, service_id)
            if task is not None and task.container_id:
                output = _logs(engine, task.id)
                if progress is not None:
                    lines = output.splitlines()
                    ended = task.state in ENDED
                    for line in lines[said:len(lines) if ended or output.endswith("\n") else len(lines) - 1]:
                        progress(line)
                        said += 1
            if task is not None and task.state in ENDED:
                if task.state in ("rejected", "failed") and task.error and not task.container_id:
                    output = f"{output}{task.error}\n"  # it never ran: Swarm says why
                return TaskRun(_exit_code(task), output[-MAX_OUTPUT:], time.monotonic() - start)
            if time.monotonic() - start >= timeout:
                engine.client.services.get(service_id).scale(0)
                return TaskRun(None, output[-MAX_OUTPUT:], time.monotonic() - start, timed_out=True)
            time.sleep(POLL)
    except DockerError as exc:
        raise engine_error(f"running {name}", exc) from exc


def _logs(engine: Handle, task_id: str) -> str:
    try:
        return task_logs_text(engine, task_id, LOG_LINES)
    except DockerError:
        return ""  # its node has not sent any yet


def task_services(engine: Handle, app: str, env: str) -> list[ReplicaFacts]:
    """The environment's one-off services, each as the state of its task: running, exited (with its
    exit code and when it ended) or created (no task yet)."""
    found = []
    try:
        for raw in engine.client.api.services(filters={"label": [L.TASK, f"{L.APP}={app}", f"{L.ENV}={env}"]}):
            try:
                found.append(_as_facts(raw, _task(engine, raw["ID"])))
            except DockerNotFound:
                continue  # removed in between
    except DockerError as exc:
        raise engine_error(f"listing the one-off services of {app}/{env}", exc) from exc
    return found


def _as_facts(raw: dict[str, Any], task: TaskFact | None) -> ReplicaFacts:
    spec = raw.get("Spec") or {}
    ended = task is not None and task.state in ENDED
    running = task is not None and not ended and bool(task.container_id)
    return ReplicaFacts(id=raw["ID"], name=spec.get("Name", ""), labels=dict(spec.get("Labels") or {}),
                        status="exited" if ended else "running" if running else "created", running=running,
                        exit_code=_exit_code(task) if ended and task else None,
                        ended_at=docker_time(task.updated) if ended and task else None)

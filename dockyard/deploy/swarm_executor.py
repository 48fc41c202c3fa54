"""Apply a Swarm plan: create/update services, wait until the new tasks run and answer, or undo.

Swarm does the rolling (start-first, one task at a time) and rolls an update back by itself
when a new task fails. Dockyard adds what Swarm cannot see without a probe in the image: each
new task is probed from outside on its published host port, at its node's publish address.
A task that does not answer within the start period makes Dockyard roll the update back
(`rollback=previous`) or remove a service it just created; the error carries the task's logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from dockyard.deploy.health import HealthCheck, TaskProbe
from dockyard.engine.interface import Engine
from dockyard.engine.swarm_facts import NodeFact, TaskFact
from dockyard.engine.swarm_spec import body_config_hash, body_name, body_replicas, named
from dockyard.errors import DockyardError, EngineError, HealthCheckFailed
from dockyard.swarm.plan import SwarmAction, SwarmKind, Verdict, judge

Report = Callable[[str], None]
SCHEDULE_ALLOWANCE = 60.0  # seconds for placing tasks and pulling the image, on top of the start period
ROLLBACK_WAIT = 90.0


@dataclass(frozen=True)
class Rollout:
    action: SwarmAction
    service_id: str
    body: dict[str, Any]
    check: HealthCheck
    port: int | None


@dataclass(frozen=True)
class Result:
    rollout: Rollout
    ok: bool
    reason: str
    seconds: float
    culprit: str | None = None  # task id whose logs explain a failure


def task_logs(engine: Engine, task_id: str, lines: int = 20) -> str:
    try:
        return engine.task_logs(task_id, lines).rstrip() or "(no output)"
    except EngineError as exc:
        return f"(logs unavailable: {exc})"


# a rollout, its tasks, the nodes (as read for the probes), the tasks answering
Progress = Callable[[Rollout, list[TaskFact], dict[str, NodeFact], frozenset[str]], None]


class SwarmExecutor:
    def __init__(self, engine: Engine, report: Report, probe: TaskProbe, on_progress: Progress | None = None) -> None:
        self.engine = engine
        self.report = report
        self.probe = probe
        self.on_progress = on_progress  # each look at a rollout: the edge follows its answering tasks

    def apply(self, actions: list[SwarmAction], bodies: dict[str, dict[str, Any]],
              checks: dict[str, HealthCheck], ports: dict[str, int | None]) -> None:
        rollouts: list[Rollout] = []
        try:
            for action in actions:
                if action.kind in (SwarmKind.CREATE, SwarmKind.UPDATE, SwarmKind.SCALE):
                    rollouts.append(self._submit(action, bodies[action.service], checks[action.service],
                                                 ports[action.service]))
            with ThreadPoolExecutor(max_workers=max(1, min(8, len(rollouts)))) as pool:
                results = list(pool.map(self.wait, rollouts))
        except BaseException:
            self._undo(rollouts, [])
            raise
        failed = [r for r in results if not r.ok]
        if failed:
            first = failed[0]
            logs = task_logs(self.engine, first.culprit) if first.culprit else "(no failed task to show)"
            self._undo(rollouts, results)
            raise HealthCheckFailed(
                f"{body_name(first.rollout.body)}: {first.reason}\n"
                f"--- last log lines of task {first.culprit or '-'} ---\n{logs}",
                hint="the previous release runs again (Swarm rollback); fix the release and deploy again")
        for result in results:
            self.report(f"{body_name(result.rollout.body)} ready in {result.seconds:.1f}s: {result.reason}")
        for action in actions:
            if action.kind is SwarmKind.REMOVE and action.current:
                self.engine.remove_service(action.current.id, action.current.name)
                self.report(f"removed service {action.current.name}")

    def _submit(self, action: SwarmAction, body: dict[str, Any], check: HealthCheck, port: int | None) -> Rollout:
        if action.kind is SwarmKind.CREATE:
            service_id = self.engine.create_service(body)
        else:
            assert action.current is not None
            service_id = action.current.id
            body = named(body, action.current.name)  # Swarm renames no service: one made before keeps its name
            self.engine.update_service(service_id, action.current.version, body)
        self.report(f"{action.kind.value} service {body_name(body)}: {action.reason}")
        return Rollout(action, service_id, body, check, port)

    def _verdict(self, rollout: Rollout) -> tuple[Verdict, list[TaskFact]]:
        service = self.engine.inspect_service(rollout.service_id)
        found = self.engine.tasks([rollout.service_id])
        return judge(service, found, body_config_hash(rollout.body), body_replicas(rollout.body)), found

    def wait(self, rollout: Rollout) -> Result:
        """Until the rollout's new tasks all run and answer, or it failed or ran out of time."""
        start = time.monotonic()
        deadline = start + rollout.check.start_period + SCHEDULE_ALLOWANCE
        first_running: dict[str, float] = {}
        healthy: set[str] = set()
        verdict = Verdict("waiting", "not looked yet")
        while time.monotonic() < deadline:
            verdict, found = self._verdict(rollout)
            if verdict.state == "failed":
                return Result(rollout, False, verdict.reason, time.monotonic() - start,
                              verdict.culprit.id if verdict.culprit else None)
            nodes = self.engine.nodes() if rollout.port else {}
            for task in verdict.ready:
                first_running.setdefault(task.id, time.monotonic())
                if task.id in healthy:
                    continue
                node = nodes.get(task.node_id)
                host_port = task.published.get(rollout.port) if rollout.port else None
                if rollout.port is None:
                    healthy.add(task.id)
                elif node and host_port and self.probe(node.publish_addr, host_port, rollout.check):
                    healthy.add(task.id)
                elif time.monotonic() - first_running[task.id] > rollout.check.start_period:
                    where = f"{node.publish_addr}:{host_port}" if node and host_port else "no published port"
                    return Result(rollout, False, f"task {task.id[:12]} (slot {task.slot}) did not answer "
                                  f"{rollout.check.path or 'TCP'} at {where} within "
                                  f"{rollout.check.start_period:g}s", time.monotonic() - start, task.id)
            if self.on_progress is not None:
                self.on_progress(rollout, found, nodes, frozenset(healthy))
            if verdict.state == "ready" and all(t.id in healthy for t in verdict.ready):
                return Result(rollout, True, f"{verdict.reason}, all answering", time.monotonic() - start)
            time.sleep(0.3)
        return Result(rollout, False, f"not ready after {deadline - start:.0f}s: {verdict.reason}",
                      time.monotonic() - start, verdict.culprit.id if verdict.culprit else None)

    def _undo(self, rollouts: list[Rollout], results: list[Result]) -> None:
        """Remove services this deploy created; roll updated ones back to their previous spec."""
        for rollout in rollouts:
            name = body_name(rollout.body)
            try:
                if rollout.action.kind is SwarmKind.CREATE:
                    self.engine.remove_service(rollout.service_id, name)
                    self.report(f"removed service {name} (failed deploy)")
                    continue
                self.engine.roll_back_service(rollout.service_id, ROLLBACK_WAIT)
                self.report(f"rolled back service {name} to its previous spec")
            except DockyardError as exc:
                self.report(f"could not undo {name}: {exc}")

"""Pure Swarm planner and progress judge: no I/O, tested by exact equality.

plan_services: desired services + observed Swarm services -> one typed action per service.
judge: one service's update status and tasks -> still waiting, ready, or failed (and why).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dockyard.engine.swarm_facts import ServiceFact, TaskFact


class SwarmKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    SCALE = "scale"
    REMOVE = "remove"
    KEEP = "keep"


@dataclass(frozen=True)
class Want:
    service: str
    name: str  # the Swarm service name
    replicas: int
    config_hash: str
    release: str


@dataclass(frozen=True)
class SwarmAction:
    kind: SwarmKind
    service: str
    replicas: int
    reason: str
    current: ServiceFact | None = None
    container = None  # the container path's Action has one; the CLI's JSON reads it

    @property
    def replica(self) -> int:
        return self.replicas

    def describe(self) -> str:
        target = self.current.name if self.current else self.service
        return f"{self.kind.value:8} {target} (service, {self.replicas} replicas): {self.reason}"


def plan_services(wanted: list[Want], observed: list[ServiceFact]) -> list[SwarmAction]:
    by_service = {s.service: s for s in observed}
    actions: list[SwarmAction] = []
    for want in wanted:
        current = by_service.get(want.service)
        if current is None:
            actions.append(SwarmAction(SwarmKind.CREATE, want.service, want.replicas,
                                       f"new service ({want.release})"))
        elif current.config_hash != want.config_hash:
            reason = (f"new release {want.release} (was {current.release})" if current.release != want.release
                      else "configuration drift (config-hash differs)")
            actions.append(SwarmAction(SwarmKind.UPDATE, want.service, want.replicas, reason, current))
        elif current.update_state in ("paused", "rollback_paused"):
            actions.append(SwarmAction(SwarmKind.UPDATE, want.service, want.replicas,
                                       f"the last update is {current.update_state}: apply again", current))
        elif current.replicas != want.replicas:
            actions.append(SwarmAction(SwarmKind.SCALE, want.service, want.replicas,
                                       f"scale {current.replicas} -> {want.replicas}", current))
        else:
            actions.append(SwarmAction(SwarmKind.KEEP, want.service, want.replicas,
                                       f"up to date ({current.release})", current))
    names = {w.service for w in wanted}
    for current in observed:
        if current.service not in names:
            actions.append(SwarmAction(SwarmKind.REMOVE, current.service, 0, "service no longer in dockyard.yml",
                                       current))
    order = {SwarmKind.CREATE: 0, SwarmKind.UPDATE: 1, SwarmKind.SCALE: 2, SwarmKind.REMOVE: 3, SwarmKind.KEEP: 4}
    return sorted(actions, key=lambda a: (order[a.kind], a.service))


@dataclass(frozen=True)
class Verdict:
    state: str  # waiting | ready | failed
    reason: str
    ready: tuple[TaskFact, ...] = ()
    culprit: TaskFact | None = None  # the task whose logs explain a failure


ROLLED_BACK = ("rollback_started", "rollback_completed", "rollback_paused", "paused")
FAILED_TASK = ("failed", "rejected", "orphaned")


def judge(service: ServiceFact, tasks: list[TaskFact], want_hash: str, replicas: int,
          max_failures: int = 3) -> Verdict:
    """Where one service's rollout stands, from its UpdateStatus and its tasks."""
    mine = [t for t in tasks if t.service_id == service.id and t.config_hash == want_hash]
    failed = sorted((t for t in mine if t.state in FAILED_TASK or (t.state == "shutdown" and t.error)),
                    key=lambda t: t.created)
    culprit = failed[-1] if failed else None
    if service.update_state in ROLLED_BACK:
        why = service.update_message or f"update {service.update_state}"
        return Verdict("failed", f"Swarm rolled the update back: {why}", culprit=culprit)
    if service.config_hash != want_hash:
        return Verdict("failed", "the service runs another configuration (rolled back or replaced)",
                       culprit=culprit)
    if len(failed) >= max_failures:
        return Verdict("failed", f"{len(failed)} new tasks failed: {culprit.error if culprit else ''}".strip(),
                       culprit=culprit)
    ready = tuple(sorted((t for t in mine if t.desired == "running" and t.state == "running"),
                         key=lambda t: t.slot))
    others = [t for t in tasks if t.service_id == service.id and t.config_hash != want_hash
              and t.desired == "running"]
    if len(ready) >= replicas and not others and service.update_state in (None, "completed"):
        return Verdict("ready", f"{len(ready)}/{replicas} tasks running", ready=ready)
    return Verdict("waiting", f"{len(ready)}/{replicas} new tasks running"
                   + (f", {len(others)} old still up" if others else "")
                   + (f", last error: {culprit.error}" if culprit else ""), ready=ready, culprit=culprit)

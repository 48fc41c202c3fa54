"""Pure deploy planner: desired services + observed containers -> typed actions with a reason.

Like docker-compose's ConvergencePlan: no I/O. The executor applies the actions; `--dry-run`
prints them. Observed containers come from engine labels, so the plan also repairs what an
interrupted deploy left behind (a duplicate replica, a stopped container).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    CREATE = "create"
    REPLACE = "replace"
    REMOVE = "remove"
    KEEP = "keep"


@dataclass(frozen=True)
class Observed:
    id: str
    name: str
    service: str
    replica: int
    config_hash: str
    release: str
    running: bool


@dataclass(frozen=True)
class Desired:
    service: str
    replicas: int
    config_hash: str
    release: str


@dataclass(frozen=True)
class Action:
    kind: Kind
    service: str
    replica: int
    reason: str
    container: Observed | None = None

    def describe(self) -> str:
        target = self.container.name if self.container else f"{self.service} replica {self.replica}"
        return f"{self.kind.value:8} {target}: {self.reason}"


def _incumbent(group: list[Observed], want_hash: str) -> Observed:
    """The container that best serves a replica slot: running and current beats running beats any."""
    return max(group, key=lambda c: (c.running, c.config_hash == want_hash, c.id))


def plan_deploy(desired: Sequence[Desired], observed: Sequence[Observed]) -> list[Action]:
    actions: list[Action] = []
    wanted = {d.service: d for d in desired}
    slots: dict[tuple[str, int], list[Observed]] = {}
    for container in observed:
        slots.setdefault((container.service, container.replica), []).append(container)

    for (service, replica), group in sorted(slots.items()):
        want = wanted.get(service)
        if want is None:
            actions += [Action(Kind.REMOVE, service, replica, "service no longer in dockyard.yml", c) for c in group]
            continue
        if replica > want.replicas:
            actions += [Action(Kind.REMOVE, service, replica, f"scale down to {want.replicas}", c) for c in group]
            continue
        keep = _incumbent(group, want.config_hash)
        for extra in group:
            if extra is not keep:
                actions.append(Action(Kind.REMOVE, service, replica, "duplicate left by an interrupted deploy",
                                      extra))
        if not keep.running:
            actions.append(Action(Kind.REPLACE, service, replica, "not running", keep))
        elif keep.config_hash != want.config_hash:
            reason = (f"new release {want.release} (was {keep.release})" if keep.release != want.release
                      else "configuration drift (config-hash differs)")
            actions.append(Action(Kind.REPLACE, service, replica, reason, keep))
        else:
            actions.append(Action(Kind.KEEP, service, replica, f"up to date ({keep.release})", keep))

    for want in desired:
        for replica in range(1, want.replicas + 1):
            if (want.service, replica) not in slots:
                actions.append(Action(Kind.CREATE, want.service, replica, f"missing replica ({want.release})"))
    order = {Kind.CREATE: 0, Kind.REPLACE: 1, Kind.REMOVE: 2, Kind.KEEP: 3}
    return sorted(actions, key=lambda a: (order[a.kind], a.service, a.replica))


def is_noop(actions: list[Action]) -> bool:
    return all(a.kind is Kind.KEEP for a in actions)

"""Threshold alerts: rules from dockyard.yml's `alerts:` section, evaluated purely on each sweep.

    alerts:
      - {name: web-down, when: down, service: web}
      - {name: restarting, when: restarting, window: 5m}
      - {name: memory, when: memory, above: 90}         # % of the container's memory limit
      - {name: probe, when: probe, for: 10s}            # a discovered service failed its probe
      - {name: hot, when: cpu, above: 80, for: 30s}     # % of one core

`evaluate` takes the rules, this sweep's samples and probes, and the alert state; it returns
the new state and the events that started or ended. Each alert has a start and an end.
Reading the rules from a file is rules.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dockyard.monitor.model import Probe, Sample

if TYPE_CHECKING:  # the rules' model and reader (rules.py) load pydantic and the spec: only with --rules
    from dockyard.spec.alerts import AlertRule


@dataclass(frozen=True)
class AlertEvent:
    rule: str
    container: str
    app: str
    env: str
    service: str
    started_at: float
    ended_at: float | None
    message: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.container)


@dataclass
class AlertState:
    pending: dict[tuple[str, str], float] = field(default_factory=dict)  # condition true since
    active: dict[tuple[str, str], AlertEvent] = field(default_factory=dict)
    restarts: dict[str, tuple[int, float]] = field(default_factory=dict)  # container -> (count, last rise)


def _condition(rule: AlertRule, s: Sample, probes: list[Probe], state: AlertState, now: float) -> str | None:
    """The message if the rule's condition holds for this sample, else None."""
    if rule.when == "down":
        return None if s.up else f"{s.name} is {s.state}"
    if rule.when == "restarting":
        count, rose = state.restarts.get(s.name, (s.restarts, 0.0))
        return f"{s.name} restarted ({s.restarts} restarts)" if rose and now - rose <= rule.window else None
    if not s.up:
        return None
    if rule.when == "memory":
        if not s.memory_limit_bytes:
            return None
        share = s.memory_bytes / s.memory_limit_bytes * 100
        return f"{s.name} uses {share:.0f}% of its memory limit" if share > rule.threshold() else None
    if rule.when == "cpu":
        return f"{s.name} uses {s.cpu_percent:.0f}% CPU" if s.cpu_percent > rule.threshold() else None
    failing = [p for p in probes if p.container == s.name and not p.ok]
    return (f"{s.name}: probe of port {failing[0].port} failed: {failing[0].detail}" if failing else None)


def evaluate(rules: list[AlertRule], samples: list[Sample], probes: list[Probe], state: AlertState,
             now: float) -> list[AlertEvent]:
    """Update `state` in place; return the alerts that started or ended in this sweep."""
    for s in samples:
        count, rose = state.restarts.get(s.name, (s.restarts, 0.0))
        state.restarts[s.name] = (s.restarts, now) if s.restarts > count else (count, rose)
    changed: list[AlertEvent] = []
    seen: set[tuple[str, str]] = set()
    for rule in rules:
        for s in samples:
            if not rule.applies(s):
                continue
            key = (rule.name, s.name)
            message = _condition(rule, s, probes, state, now)
            if message is None:
                continue
            seen.add(key)
            since = state.pending.setdefault(key, now)
            if key not in state.active and now - since >= rule.for_:
                event = AlertEvent(rule.name, s.name, s.app, s.env, s.service, now, None, message)
                state.active[key] = event
                changed.append(event)
    for key in [k for k in state.pending if k not in seen]:
        del state.pending[key]
        ended = state.active.pop(key, None)
        if ended:
            changed.append(replace(ended, ended_at=now))
    return changed

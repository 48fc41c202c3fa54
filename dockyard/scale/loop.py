"""The autoscaling loop: for each (app, env, service) with `scaling:`, every `period`, read the facts,
decide (policy.decide, pure), store the decision as an event, and apply it (apply.Scaler).

Runs in `dockyard server` (a thread beside the pipeline worker) and as `dockyard autoscale run`.
Metrics come from the host agent over HTTP (`--agent`, $DOCKYARD_AGENT, settings `agent_url`, or
http://127.0.0.1:9180), and on a Swarm also from the agent each node names in its `dockyard.agent`
label. An agent that does not answer yields no samples: the policy then holds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dockyard.config.service import ConfigService, open_config_service
from dockyard.deploy.deployer import Deployer
from dockyard.engine.client import connect
from dockyard.engine.placement import placement
from dockyard.engine.swarm_facts import AGENT_LABEL
from dockyard.errors import DockyardError
from dockyard.monitor.client import AgentUnavailable, agent_url, get_json
from dockyard.notify.emit import emit
from dockyard.scale.apply import Scaler
from dockyard.scale.deploys import new_deployer
from dockyard.scale.facts import readings, request_counter, serving
from dockyard.scale.policy import Decision, Inputs, Policy, alarm_history, decide, window_history
from dockyard.scale.store import ScaleStore
from dockyard.spec import AppSpec, load_spec
from dockyard.state.audit import AuditLog
from dockyard.state.db import StateDB
from dockyard.state.lock import hand_lock

log = logging.getLogger("dockyard.autoscale")
Report = Callable[[str], None]
UNBOUNDED = Policy(min=0, max=1_000_000, targets=())  # a service without scaling: only `dockyard scale`


class Metrics(Protocol):
    def samples(self, app: str, env: str, service: str, nodes: tuple[str, ...] = ()
                ) -> tuple[list[dict[str, Any]], str]:
        """(samples, problem): the latest sample per container from this host's agent and from the
        agents of `nodes` (their URLs); problem is '' when every one answered."""
        ...


class AgentMetrics:
    def __init__(self, url: str | None = None, timeout: float = 2.0) -> None:
        self.url = agent_url(url)
        self.timeout = timeout

    def samples(self, app: str, env: str, service: str, nodes: tuple[str, ...] = ()
                ) -> tuple[list[dict[str, Any]], str]:
        found: list[dict[str, Any]] = []
        silent = []
        for url in dict.fromkeys([self.url, *(n.rstrip("/") for n in nodes)]):
            try:
                data = get_json(url, "/api/stats", {"app": app, "env": env, "service": service}, self.timeout)
                found += data.get("samples") or []
            except AgentUnavailable:
                silent.append(url)
        return found, f"the agent at {', '.join(silent)} did not answer" if silent else ""


def node_agents(engine: Any) -> tuple[str, ...]:
    """The agents of a Swarm's nodes, from their `dockyard.agent` label: each reads its own node's
    containers, so the tasks on every node have samples (a task without one blocks a scale-in)."""

    if not placement(engine).spread_over_nodes:
        return ()
    return tuple(sorted({url for n in engine.nodes().values() if (url := n.labels.get(AGENT_LABEL))}))


def policy_for(spec: AppSpec, env: str, service: str) -> Policy:
    rule = spec.environment(env).scaling.get(service)
    return Policy.from_spec(rule) if rule is not None else UNBOUNDED


@dataclass(frozen=True)
class Evaluated:
    app: str
    env: str
    service: str
    event_id: int
    decision: Decision
    outcome: str


class Autoscaler:
    def __init__(self, db: StateDB, metrics: Metrics, report: Report | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.db, self.metrics, self.clock = db, metrics, clock
        self.store = ScaleStore(db)
        self.report = report or (lambda line: log.info("%s", line))
        self.due: dict[tuple[str, str, str], float] = {}
        self._config: ConfigService | None = None

    def _deployer(self, spec: AppSpec) -> Deployer:
        if self._config is None:
            self._config = open_config_service()
        return new_deployer(spec, self._config, self.db, self.report)

    def evaluate(self, spec: AppSpec, env: str, service: str, apply: bool = True, wait: bool = False) -> Evaluated:
        """Decide for one service now, store the decision, apply it. Never raises a DockyardError."""

        policy, app = policy_for(spec, env, service), spec.app
        try:
            engine = connect(spec.environment(env).engine, timeout=20)
        except DockyardError as exc:
            return self._unreachable(spec, env, service, exc.message)
        try:
            running = serving(engine, spec, env, service)
            samples: list[dict[str, Any]] = []
            problem = ""
            if {"cpu", "memory"} & set(policy.metrics):
                samples, problem = self.metrics.samples(app, env, service, node_agents(engine))
            cpus = spec.service(service).resources.cpus
            found = readings(samples, running, [m for m in policy.metrics if m != "requests"], cpus)
            counters = self._request_counters(app, env, service) if "requests" in policy.metrics else ()
            now = self.clock()
            # One read of the past decisions, then each window takes its own span of it.
            windows = max(policy.up_window, policy.down_window)
            lookback = max(windows, policy.alarm_lookback)
            past = self.store.window(app, env, service, lookback, now) if lookback else []
            history = window_history([e for e in past if e["at"] >= now - windows]) if windows else ()
            points, states = alarm_history([e for e in past if e["at"] >= now - policy.alarm_lookback]
                                           ) if policy.alarms else ((), ())
            override = self.store.override(app, env, service)
            decision = decide(policy, Inputs(now, tuple(r.as_policy() for r in running), found, history,
                                             override.replicas if override else None, points, states,
                                             self.store.last_change(app, env, service) if policy.alarms else None,
                                             counters))
            event_id = self.store.record(app, env, service, decision, problem)
            outcome = problem
            held = hand_lock(app, env) if decision.action != "hold" and apply and not wait else None
            if held is not None:  # someone holds the environment by hand: decided, not applied, not audited
                outcome = f"not applied: {app}/{env} is locked, {held.describe()}"
                self.store.set_outcome(event_id, outcome)
            elif decision.action != "hold" and apply:
                self.report(f"{app}/{env}/{service}: {decision.action} {decision.current} -> {decision.desired}: "
                            f"{decision.reason}")
                try:
                    outcome = Scaler(self._deployer(spec), engine, env, self.report).scale(
                        service, decision.desired, f"{decision.action}: {decision.reason}", wait=wait)
                except DockyardError as exc:
                    outcome = f"failed: {exc.message.splitlines()[0]}"
                self.store.set_outcome(event_id, outcome)
                AuditLog(self.db).record("autoscaler", "server", "scale", f"{app}/{env}/{service}",
                                         "ok" if not outcome.startswith("failed") else outcome,
                                         f"{decision.current} -> {decision.desired}: {decision.reason}"[:300])
                self.report(f"{app}/{env}/{service}: {outcome}")
                if not outcome.startswith("failed"):
                    emit(self.db, f"scale:{app}:{env}:{service}:{event_id}", "scaled", app, env,
                         f"{app}/{env}/{service} scaled {decision.current} -> {decision.desired} ({decision.action}: "
                         f"{decision.reason})"[:300], service=service, current=decision.current,
                         desired=decision.desired)
            return Evaluated(app, env, service, event_id, decision, outcome)
        except DockyardError as exc:
            return self._unreachable(spec, env, service, exc.message)
        finally:
            engine.close()

    def _request_counters(self, app: str, env: str, service: str) -> tuple[tuple[float, int], ...]:
        """The balancer's counter as the last decision read it, and now: the policy takes the rate."""
        now = request_counter(app, env)
        last = self.store.events(app, env, service, limit=1)
        earlier = ((last[0]["inputs"].get("inputs") or {}).get("requests") or []) if last else []
        return tuple((float(at), int(n)) for at, n in [*earlier[-1:], *([now] if now else [])])

    def _unreachable(self, spec: AppSpec, env: str, service: str, why: str) -> Evaluated:
        decision = Decision(at=self.clock(), current=0, desired=0, recommendation=0, action="hold",
                            reason=f"cannot read the environment: {why.splitlines()[0]}")
        event_id = self.store.record(spec.app, env, service, decision, "error")
        return Evaluated(spec.app, env, service, event_id, decision, "error")

    def tick(self, specs: list[AppSpec], force: bool = False) -> list[Evaluated]:
        """Evaluate every scaled service whose period has come (all of them when `force`)."""
        done = []
        for spec in specs:
            for env, rules in spec.environments.items():
                for service in rules.scaling:
                    key = (spec.app, env, service)
                    now = time.monotonic()
                    if not force and self.due.get(key, 0.0) > now:
                        continue
                    self.due[key] = now + policy_for(spec, env, service).period
                    done.append(self.evaluate(spec, env, service))
        return done

    def run_forever(self, stop: threading.Event, specs: Callable[[], list[AppSpec]], step: float = 0.25) -> None:
        while not stop.is_set():
            try:
                self.tick(specs())
            except Exception:  # a bug or a vanished database: log it, the loop goes on
                log.exception("autoscaler tick failed")
            stop.wait(step)


class EnabledSpecs:
    """The dockyard.yml of every app `dockyard autoscale enable` registered, re-read every `every` s."""

    def __init__(self, store: ScaleStore, every: float = 10.0) -> None:
        self.store, self.every = store, every
        self.loaded_at = -every
        self.specs: list[AppSpec] = []

    def __call__(self) -> list[AppSpec]:
        if time.monotonic() - self.loaded_at < self.every:
            return self.specs
        specs = []
        for app, path in self.store.apps():
            try:
                specs.append(load_spec(Path(path)))
            except DockyardError as exc:
                log.warning("autoscaler: %s (%s) skipped: %s", app, path, exc.message.splitlines()[0])
        self.specs, self.loaded_at = specs, time.monotonic()
        return specs

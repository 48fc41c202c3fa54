"""A canary rollout, driven: the steps' weights set at the edge, each step's window of requests
judged (plan/canary.py), a person's requests carried out, and the end: promoted (the canary serves
everything, the stable release's replicas go) or aborted (weight 0 at once, the canary's replicas go,
the release marked `aborted` with the numbers that failed it, an event and a notification).

Whoever drives a rollout holds the environment's lock (state/lock.py) for as long as it drives: the
deploy that started it, or, when that process died, the server (or `dockyard rollout resume`), which
goes on from the step the table says, its pause counted from when the step began. The table
(deploy/rollout_store.py) holds all it needs: no dockyard.yml, so a server takes over any app's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from dockyard import settings
from dockyard.deploy.edge import DRAIN_TIMEOUT, EdgeDoor
from dockyard.deploy.history import record_release
from dockyard.deploy.parts import Parts
from dockyard.deploy.rollout_store import RolloutRow, RolloutStore
from dockyard.deploy.targets.containers import ContainerTarget
from dockyard.deploy.targets.swarm import SwarmTarget
from dockyard.engine.interface import Engine
from dockyard.errors import DeployError, NotFound
from dockyard.logs.edge_window import EdgeTraffic
from dockyard.monitor.client import AgentUnavailable, agent_url, get_json
from dockyard.monitor.prometheus import PrometheusUnavailable, query_number
from dockyard.notify.emit import emit
from dockyard.plan.canary import Decision, Step, Usage, Verdict, Window, judge, next_move
from dockyard.router.colors import ContainerFleet, Replica
from dockyard.router.edge_render import Canary
from dockyard.router.edge_routes import edge_dir
from dockyard.router.swarm_fleet import SwarmFleet
from dockyard.spec.canary import AnalysisSpec, QuerySpec
from dockyard.state.audit import AuditLog
from dockyard.state.db import StateDB
from dockyard.state.lock import EnvLocked, env_lock, running_holder

Report = Callable[[str], None]
POLL = 0.5  # seconds between two looks at the table and the edge's requests
# a placement's kind -> its colours' replicas (a Swarm colour is removed whole, as a rollout removes it)
FLEETS: dict[str, type[ContainerFleet] | type[SwarmFleet]] = {ContainerTarget.kind: ContainerFleet,
                                                              SwarmTarget.kind: SwarmFleet}


@dataclass
class Tally:
    """One step's numbers so far, per track: the edge's requests, the agent's samples of the replicas,
    and Prometheus' last answers."""

    statuses: dict[str, list[int]] = field(default_factory=lambda: {"canary": [], "stable": []})
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"canary": [], "stable": []})
    cpu: dict[str, list[float]] = field(default_factory=lambda: {"canary": [], "stable": []})
    memory: dict[str, list[int]] = field(default_factory=lambda: {"canary": [], "stable": []})
    replicas: dict[str, int] = field(default_factory=lambda: {"canary": 0, "stable": 0})
    measured: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)

    def add(self, track: str, status: int, upstream_s: float | None) -> None:
        if track in self.statuses:
            self.statuses[track].append(status)
            if upstream_s is not None:
                self.latencies[track].append(round(upstream_s * 1000, 3))

    def window(self, track: str) -> Window:
        return Window.of(self.statuses[track], self.latencies[track])

    def sampled(self, track: str, cpu_percent: float, memory_bytes: int) -> None:
        self.cpu[track].append(float(cpu_percent))
        self.memory[track].append(int(memory_bytes))

    def usage(self) -> tuple[Usage, Usage]:
        return (Usage(tuple(self.cpu["canary"]), tuple(self.memory["canary"]), self.replicas["canary"]),
                Usage(tuple(self.cpu["stable"]), tuple(self.memory["stable"]), self.replicas["stable"]))


def sample_usage(tally: Tally, samples: list[dict[str, Any]], replicas: list[Replica], canary: str,
                 stable: str) -> None:
    """The host agent's latest samples of the environment's containers, each to its release's track."""
    track = {r.container[:12]: "canary" if r.release == canary else "stable" for r in replicas
             if r.release in (canary, stable) and r.running and not r.worker and r.container}
    for side in ("canary", "stable"):
        tally.replicas[side] = sum(1 for t in track.values() if t == side)
    for sample in samples:
        which = track.get(str(sample.get("id", ""))[:12])
        if which is not None and sample.get("up", True):
            tally.sampled(which, float(sample.get("cpu_percent") or 0.0), int(sample.get("memory_bytes") or 0))


def rules_of(row: RolloutRow) -> AnalysisSpec:
    """The analysis rules as the deploy that started the rollout read them from dockyard.yml."""
    return AnalysisSpec.model_validate(row.plan["analysis"])


def ask_queries(url: str, queries: list[QuerySpec], app: str, env: str, sides: dict[str, tuple[str, str]],
                window: float) -> dict[str, tuple[float | None, float | None]]:
    """Each query's number for the canary and the stable release (`sides`: track -> (release, colour))."""
    found: dict[str, tuple[float | None, float | None]] = {}
    for query in queries:
        numbers = []
        for track in ("canary", "stable"):
            release, color = sides[track]
            promql = query.query
            for name, value in (("{app}", app), ("{env}", env), ("{release}", release), ("{color}", color),
                                ("{window}", f"{max(int(window), 1)}s")):
                promql = promql.replace(name, value)
            numbers.append(query_number(url, promql))
        found[query.name] = (numbers[0], numbers[1])
    return found


class RolloutDriver:
    def __init__(self, db: StateDB, row: RolloutRow, report: Report, parts: Parts | None = None,
                 edge_logs: Any = None) -> None:
        self.db, self.row, self.report = db, row, report
        self.parts = parts or Parts()
        self.store = RolloutStore(db)
        self.steps = [Step(int(s["weight"]), float(s["pause"])) for s in row.steps]
        self.rules = rules_of(row)
        self.traffic = EdgeTraffic(edge_logs or edge_dir() / "logs", row.app, row.env, row.step_started_at)
        self.tally = Tally()
        self.said = 0.0
        self.agent_silent = self.prometheus_silent = False
        self._engine: Engine | None = None  # one connection for the whole drive

    @property
    def target(self) -> str:
        return f"{self.row.app}/{self.row.env}"

    def edge(self) -> EdgeDoor:
        return self.parts.edge(self.report)

    # -- the loop ---------------------------------------------------------------------------------
    def drive(self, stop: Callable[[], bool] = lambda: False) -> RolloutRow:
        """Until the rollout ends (or `stop` says so: the server stopping)."""
        try:
            while self.row.active and not stop():
                self.tick(time.time())
                if self.row.active:
                    time.sleep(POLL)
        finally:
            self.close()
        return self.row

    def close(self) -> None:
        self.traffic.close()
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def tick(self, now: float) -> Decision:
        """One look: the new requests counted, the request or verdict carried out."""
        for entry in self.traffic.take():
            if entry.time_ns >= self.row.step_started_at * 1e9:
                self.tally.add(entry.track, entry.status, entry.upstream_s)
        fresh = self.store.get(self.row.id)
        request = fresh.request if fresh is not None else ""
        self.row.request, self.row.request_by = request, fresh.request_by if fresh else ""
        verdict = self.verdict(final=now - self.row.step_started_at >= self.steps[self.row.step].pause)
        decision = next_move(self.steps, self.row.step, self.row.step_started_at, now, self.row.state == "paused",
                             verdict, request, self.rules.inconclusive)
        self._carry_out(decision, verdict, now, request)
        if decision.move == "hold" and now - self.said >= float(self.rules.interval):
            self.said = now
            if self.uses_agent:
                self.sample_agent()
            if self.rules.queries:
                self.ask_prometheus(now)
            self.row.window = {**verdict.as_json(), "decision": decision.reason, "judged_at": now}
            self.store.save_window(self.row.id, self.row.window)
            self.report(self.progress(verdict, decision))
        return decision

    @property
    def uses_agent(self) -> bool:
        return self.rules.max_cpu_ratio is not None or self.rules.max_memory_ratio is not None

    def verdict(self, final: bool = True) -> Verdict:
        """The step's window so far; `final` once its pause is over (plan/canary.judge)."""
        return judge(self.tally.window("canary"), self.tally.window("stable"), self.rules,
                     usage=self.tally.usage() if self.uses_agent else None, final=final, measured=self.tally.measured)

    def sample_agent(self) -> None:
        """CPU and memory per replica from the site's host agent, where the analysis has rules on them;
        an agent that does not answer leaves those rules inconclusive (said once)."""
        try:
            data = get_json(agent_url(), "/api/stats", {"app": self.row.app, "env": self.row.env}, timeout=2.0)
        except AgentUnavailable as exc:
            if not self.agent_silent:
                self.report(f"canary: {exc.message}: the CPU and memory rules wait for it")
            self.agent_silent = True
            return
        self.agent_silent = False
        sample_usage(self.tally, list(data.get("samples") or []), self._replicas()[1], self.row.release_id,
                     self.row.stable_release)

    def ask_prometheus(self, now: float) -> None:
        """The analysis' queries, each for both releases, of the site's Prometheus; one that cannot be
        asked leaves those rules inconclusive (said once)."""
        url = settings.prometheus_url()
        if not url:
            if not self.prometheus_silent:
                self.report("canary: the analysis has queries, and the site names no Prometheus "
                            "(prometheus_url in the settings, DOCKYARD_PROMETHEUS): they stay inconclusive")
            self.prometheus_silent = True
            return
        plan = self.row.plan
        stable_color = "green" if plan["color"] == "blue" else "blue"
        try:
            self.tally.measured = ask_queries(url, self.rules.queries, self.row.app, self.row.env,
                                              {"canary": (self.row.release_id, plan["color"]),
                                               "stable": (self.row.stable_release, stable_color)},
                                              now - self.row.step_started_at)
            self.prometheus_silent = False
        except PrometheusUnavailable as exc:
            if not self.prometheus_silent:
                self.report(f"canary: {exc.message}: its queries wait for it")
            self.prometheus_silent = True

    def progress(self, verdict: Verdict, decision: Decision) -> str:
        c, s = verdict.canary, verdict.stable
        return (f"canary {self.row.weight}% (step {self.row.step + 1} of {len(self.steps)}): {c['requests']} "
                f"requests, 5xx {c['ratio_5xx']:.2%}, p95 {c['p95_ms']} ms; stable {s['requests']}, 5xx "
                f"{s['ratio_5xx']:.2%}, p95 {s['p95_ms']} ms; {decision.reason}")

    def _carry_out(self, decision: Decision, verdict: Verdict, now: float, request: str) -> None:
        row = self.row
        if decision.move == "hold":
            return
        by = row.request_by or "dockyard"
        if decision.move in ("pause", "resume"):
            row.state = "paused" if decision.move == "pause" else "running"
            if decision.move == "resume":
                row.step_started_at, self.tally = now, Tally()
            self.store.save(row, taken=request)
            self.report(f"canary of {row.release_id}: {decision.reason} ({by})")
            return
        row.results.append({"step": row.step + 1, "weight": row.weight, "began_at": row.step_started_at,
                            "ended_at": now, "seconds": round(now - row.step_started_at, 1),
                            "decision": decision.move, "reason": decision.reason, **verdict.as_json()})
        if decision.move == "advance":
            row.step += 1
            row.weight, row.step_started_at, self.tally = self.steps[row.step].weight, now, Tally()
            row.window = {}
            self.set_weight(row.weight)
            self.store.save(row, taken=request)
            self.report(f"canary of {row.release_id}: {decision.reason}; now {row.weight}% for "
                        f"{self.steps[row.step].pause:g} s (step {row.step + 1} of {len(self.steps)})")
        elif decision.move == "promote":
            self.promote(decision.reason, request)
        else:
            self.abort(decision.reason, request)

    # -- the edge and the replicas ----------------------------------------------------------------
    def set_weight(self, weight: int) -> None:
        """The step's weight at the edge: in the running edge at once, else with a reload."""
        edge = self.edge()
        if edge.weigh_canary(self.row.app, self.row.env, weight):
            return
        route = edge.route(self.row.app, self.row.env)
        if route is None or route.canary is None:
            raise DeployError(f"{self.target} has no canary at the edge any more",
                              hint=f"dockyard rollout abort {self.row.env}")
        edge.publish(replace(route, canary=replace(route.canary, weight=weight)), lambda name: name)

    def _replicas(self) -> tuple[ContainerFleet | SwarmFleet, list[Replica]]:
        """The colours' replicas where the rollout's placement runs them: containers, or Swarm tasks."""
        if self._engine is None:
            self._engine = self.parts.engines(self.row.plan["engine"])
        kind = FLEETS[self.row.plan.get("placement", ContainerTarget.kind)]
        fleet = kind(self._engine, self.row.app, self.row.env)
        return fleet, fleet.replicas()

    def reconcile(self) -> None:
        """The edge as the table says, before a rollout is driven again: a deploy killed between its
        row and its route (or within a reload) left the canary at the edge behind, or not there."""
        row, plan = self.row, self.row.plan
        _, replicas = self._replicas()
        servers = tuple(sorted(r.address for r in replicas if r.release == row.release_id and r.color == plan["color"]
                               and r.service == plan["split"]["service"] and r.running and r.address))
        edge = self.edge()
        route = edge.route(row.app, row.env)
        if route is None or not servers:
            self.abort("its replicas are gone" if route is not None else "the environment is not on the edge")
            return
        split = plan["split"]
        edge.publish(replace(route, canary=Canary(row.release_id, servers, row.weight, split["sticky"], split["header"],
                                                  split["cookie"])), lambda name: name)

    def promote(self, reason: str, request: str = "") -> None:
        """Every request to the canary, then the stable release's replicas go; the canary is live."""
        row, plan = self.row, self.row.plan
        edge = self.edge()
        route = edge.route(row.app, row.env)
        if route is not None:
            servers = route.canary.servers if route.canary is not None else route.servers
            edge.publish(replace(route, servers=servers, canary=None), lambda name: name)
            edge.wait_drained(DRAIN_TIMEOUT)
        fleet, replicas = self._replicas()
        fleet.remove([r for r in replicas if r.release != row.release_id], plan["grace"])
        row.state, row.weight, row.ended_at, row.reason = "promoted", 100, time.time(), reason
        self.store.save(row, taken=request)
        record_release(self.db, row.app, row.author, self.report, row.env, row.release_id, plan["image"],
                       plan.get("commit"), int(plan["config_revision"]), "live", plan.get("note") or "canary")
        self._audit("rollout promote", "ok", reason)
        self.report(f"canary of {row.release_id} promoted: it serves every request ({reason})")

    def abort(self, reason: str, request: str = "") -> None:
        """Nobody to the canary at once (testers neither), then its route and replicas go; the
        release is marked aborted."""
        row, plan = self.row, self.row.plan
        edge = self.edge()
        edge.weigh_canary(row.app, row.env, -1)  # nobody reaches it from now: no reload to wait for
        route = edge.route(row.app, row.env)
        if route is not None:  # also where its file has no canary: the configuration may still have one
            edge.publish(replace(route, canary=None), lambda name: name)
        at = row.weight
        row.state, row.weight, row.ended_at, row.reason = "aborted", 0, time.time(), reason
        self.store.save(row, taken=request)
        self.report(f"canary of {row.release_id} aborted at step {row.step + 1} ({at}%): {reason}")
        if route is not None:
            edge.wait_drained(DRAIN_TIMEOUT)
        fleet, replicas = self._replicas()
        fleet.remove([r for r in replicas if r.release == row.release_id and r.color == plan["color"]],
                     plan["grace"])
        record_release(self.db, row.app, row.author, self.report, row.env, row.release_id, plan["image"],
                       plan.get("commit"), int(plan["config_revision"]), "aborted", f"canary aborted: {reason}")
        emit(self.db, f"rollout:{row.app}:{row.env}:{row.id}:aborted", "rollout.aborted", row.app, row.env,
             f"{self.target}: the canary of release {row.release_id} was aborted at {at}%: {reason}",
             release=row.release_id, stable=row.stable_release, reason=reason,
             analysis=row.results[-1] if row.results else None)
        self._audit("rollout abort", "ok", reason)

    def _audit(self, action: str, outcome: str, detail: str) -> None:
        AuditLog(self.db).record(self.row.request_by or "dockyard", "rollout", action, self.target, outcome,
                                 f"release {self.row.release_id}: {detail}")


def split_of(canary_spec: Any, service: str) -> dict[str, Any]:
    """Who sees the canary, as the table keeps it (plan["split"])."""
    match = canary_spec.match
    return {"service": service, "sticky": canary_spec.sticky, "header": (match.header or "") if match else "",
            "cookie": (match.cookie or "") if match else ""}


def canary_at_edge(release: str, servers: tuple[str, ...], weight: int, split: dict[str, Any]) -> Canary:
    return Canary(release, servers, weight, split["sticky"], split["header"], split["cookie"])


def take_over(rollout_id: int, report: Report, stop: Callable[[], bool] = lambda: False,
              parts: Parts | None = None, once: bool = False) -> RolloutRow | None:
    """Drive a rollout nobody drives (its deploy was killed): under the environment's lock, from the
    step the table says; None if somebody drives it already, or it has ended. `once`: at least one
    look, then as long as `stop` allows. A lock taken by hand
    does not stop it: a rollout left at a weight is worse than one that goes on."""
    db = StateDB()
    try:
        row = RolloutStore(db).get(rollout_id)
        if row is None or not row.active or running_holder(row.app, row.env) is not None:
            return None
        try:
            with env_lock(row.app, row.env, contended=0.0, doing="rollout", mind_hand_lock=False):
                row = RolloutStore(db).get(rollout_id)  # as it is now that nobody else can move it
                if row is None or not row.active:
                    return None
                report(f"{row.app}/{row.env}: driving the canary of release {row.release_id} from step "
                       f"{row.step + 1} ({row.weight}%, {row.state})")
                driver = RolloutDriver(db, row, report, parts)
                try:
                    driver.reconcile()
                    if once and driver.row.active:
                        driver.tick(time.time())
                    return driver.drive(stop)
                finally:
                    driver.close()
        except EnvLocked:
            return None
    finally:
        db.close()


APPLIED_WITHIN = 15.0  # seconds a rollout's driver has to carry a person's request out


def ask(db: StateDB, app: str, env: str, request: str, by: str, report: Report = lambda _line: None,
        drive_here: bool = False) -> RolloutRow:
    """A person's `request` of env's rollout in progress (their rights checked by the caller), and the
    rollout once its driver carried it out. Where nobody drives it, one look here carries it out
    (`drive_here`: then the rollout is driven here to its end, unless it was paused)."""
    store = RolloutStore(db)
    row = store.latest(app, env)
    if row is None or not row.active:
        raise NotFound(f"{app}/{env} has no canary rollout in progress"
                       + (f" (the last one, of release {row.release_id}, was {row.state})" if row else ""),
                       hint=f"`dockyard rollout status {env}` shows it")
    store.ask(row.id, request, by)
    if running_holder(app, env) is None:
        here = drive_here and request != "pause"
        take_over(row.id, report, stop=(lambda: False) if here else (lambda: True), once=True)
    deadline = time.monotonic() + APPLIED_WITHIN
    while (fresh := store.get(row.id)) is not None and fresh.active and fresh.request == request:
        if time.monotonic() > deadline:
            raise NotFound(f"{app}/{env}: the rollout's driver has not carried out `{request}` within "
                           f"{APPLIED_WITHIN:g} s; it still asks", hint=f"dockyard rollout status {env}")
        time.sleep(0.2)
    assert fresh is not None
    return fresh

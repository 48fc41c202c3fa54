"""canary: the release starts beside the stable one (on the other colour, every service: containers,
or a Swarm service per service and colour) and is tested; then the host's edge sends it a share of
the requests a step at a time, judged between the steps and during each pause (deploy/rollout.py);
a failing judgement aborts it by itself, the stable release never having stopped serving. The
deploy drives the rollout to its end and says how it ended; the first release of an environment, a
rollback and a restore go live whole."""

from __future__ import annotations

from typing import Any

from dockyard.deploy.edge import publish_edge
from dockyard.deploy.executor import Workload
from dockyard.deploy.outcome import DeployOutcome, Prepared
from dockyard.deploy.rollout import RolloutDriver, canary_at_edge, split_of
from dockyard.deploy.rollout_store import RolloutStore
from dockyard.deploy.strategies.base import Strategy
from dockyard.deploy.verify import verify_release
from dockyard.errors import DeployError, DockyardError
from dockyard.router.colors import Replica, routed_service
from dockyard.spec.canary import CanarySpec
from dockyard.state.lock import env_lock


def servers_of(replicas: list[Replica], service: str, keep: Any) -> tuple[str, ...]:
    return tuple(sorted(r.address for r in replicas if r.service == service and r.running and r.address and keep(r)))


class Canary(Strategy):
    name = "canary"

    @property
    def canary(self) -> CanarySpec:
        found = self.spec.environment(self.env).canary
        assert found is not None  # spec/checks.py: strategy: canary has its steps
        return found

    def deploy(self, prepared: Prepared, workload: Any, dry_run: bool, note: str,
               skip_tests: bool) -> DeployOutcome:
        app, env, db = self.spec.app, self.env, self.ctx.db
        outcome = DeployOutcome.of(prepared, app, [], dry_run=dry_run)
        with env_lock(app, env):
            running = RolloutStore(db).latest(app, env)
            if running is not None and running.active:
                raise DeployError(f"{app}/{env}: the canary of release {running.release_id} is at step "
                                  f"{running.step + 1} ({running.weight}%); one rollout at a time",
                                  hint=f"dockyard rollout promote {env} or dockyard rollout abort {env} first")
            fleet = self.target.fleet()
            replicas = fleet.replicas()  # type: ignore[attr-defined]
            live = db.live_release(app, env)
            stable = [r for r in replicas if live is not None and r.release == live.release_id]
            if live is not None and live.release_id == prepared.release_id and stable:
                self.report(f"{app}/{env} already runs release {prepared.release_id}")
                outcome.urls = self.target.urls()
                return outcome
            whole = live is None or not stable or not prepared.hooks
            steps = ", ".join(f"{s.weight}% for {s.pause:g} s" for s in self.canary.steps)
            self.report(f"plan     {prepared.release_id}: " + ("live whole (nothing to compare it with)" if whole
                                                              else f"canary steps {steps}, then 100%"))
            if dry_run:
                return outcome
            leftovers = [r for r in replicas if live is None or r.release != live.release_id]
            fleet.remove(leftovers, self._grace())  # what an interrupted canary left
            color = "green" if any(r.color == "blue" for r in stable) else "blue"
            self._start(prepared, workload, color, note, skip_tests, "release" if whole else "canary of release")
            if whole:
                self._whole(prepared, workload, color, note)
            else:
                assert live is not None
                self._roll_out(prepared, live.release_id, color, note)
                self.after_switch(prepared, workload)
        outcome.urls = self.target.urls()
        return outcome

    def _grace(self) -> dict[str, float]:
        return {name: service.stop_grace for name, service in self.spec.services.items()}

    def _start(self, prepared: Prepared, workload: Workload, color: str, note: str, skip_tests: bool,
               what: str) -> None:
        """The release on `color`, healthy and tested, its hooks run; on a failure nothing of it stays."""
        record = (self.env, prepared.release_id, prepared.image, prepared.commit, prepared.config_revision)
        try:
            self.hook("pre_deploy", prepared, workload)
            if prepared.release_task != "skip":
                self.target.run_release_task(prepared.release_id, workload, self.ctx.tasks,
                                             again=prepared.release_task == "again")
            self.target.start_color(workload, color, f"{what} {prepared.release_id}")
            if not skip_tests:
                verify_release(self.target.engine, self.spec, self.env, prepared.release_id, prepared.image,
                               self.report)
            self.hook("post_deploy", prepared, workload)
        except DockyardError as exc:  # a failed hook too
            fleet = self.target.fleet()
            fleet.remove([r for r in fleet.replicas() if r.release == prepared.release_id  # type: ignore[attr-defined]
                          and r.color == color], self._grace())
            self.ctx.record(*record, "failed", note, failure=exc)
            raise

    def _whole(self, prepared: Prepared, workload: Workload, color: str, note: str) -> None:
        fleet = self.target.fleet()
        replicas = fleet.replicas()  # type: ignore[attr-defined]
        servers = servers_of(replicas, routed_service(self.spec), lambda r: r.color == color
                             and r.release == prepared.release_id)
        publish_edge(self.spec, self.env, self.ctx.parts.edge(self.report), self.report, servers)
        fleet.remove([r for r in replicas if r.release != prepared.release_id or r.color != color], self._grace())
        self.ctx.record(self.env, prepared.release_id, prepared.image, prepared.commit, prepared.config_revision,
                        "live", note)
        self.after_switch(prepared, workload)

    def _roll_out(self, prepared: Prepared, stable: str, color: str, note: str) -> None:
        app, env, canary = self.spec.app, self.env, self.canary
        replicas = self.target.fleet().replicas()  # type: ignore[attr-defined]
        service = routed_service(self.spec)
        mine = servers_of(replicas, service, lambda r: r.color == color and r.release == prepared.release_id)
        theirs = servers_of(replicas, service, lambda r: r.release == stable)
        split = split_of(canary, service)
        plan: dict[str, Any] = {  # what the rollout needs to go on without dockyard.yml (a server's take-over)
            "steps": [s.model_dump() for s in canary.steps], "analysis": canary.analysis.model_dump(),
            "engine": self.spec.environment(env).engine, "placement": self.target.kind, "color": color,
            "image": prepared.image, "commit": prepared.commit, "config_revision": prepared.config_revision,
            "note": note, "grace": self._grace(), "split": split}
        first = canary.steps[0].weight
        row = RolloutStore(self.ctx.db).start(app, env, prepared.release_id, stable, first, plan, self.ctx.author)
        # judged from the reload on: the old edge processes finish on the stable replicas, which stay
        publish_edge(self.spec, env, self.ctx.parts.edge(self.report), self.report, theirs,
                     canary=canary_at_edge(prepared.release_id, mine, first, split), drain=False)
        self.report(f"canary of {prepared.release_id}: {first}% for {canary.steps[0].pause:g} s "
                    f"(step 1 of {len(canary.steps)}); `dockyard rollout status {env}` shows it")
        ended = RolloutDriver(self.ctx.db, row, self.report, self.ctx.parts).drive()
        if ended.state != "promoted":
            raise DeployError(f"{app}/{env}: the canary of release {prepared.release_id} was {ended.state}: "
                              f"{ended.reason}\nrelease {stable} serves every request",
                              hint=f"`dockyard rollout status {env} --json` shows the numbers of every step")

"""Replace replicas where they run, a batch at a time: every new one healthy before an old one goes."""

from __future__ import annotations

from typing import Any

from dockyard.deploy.outcome import DeployOutcome, Prepared
from dockyard.deploy.strategies.base import Strategy
from dockyard.deploy.verify import verify_release
from dockyard.errors import DockyardError, RetireFailed
from dockyard.state.lock import env_lock


class InPlace(Strategy):
    def deploy(self, prepared: Prepared, workload: Any, dry_run: bool, note: str,
               skip_tests: bool) -> DeployOutcome:
        app, env, target = self.spec.app, self.env, self.target
        with env_lock(app, env):
            actions = target.plan(prepared, workload)
            outcome = DeployOutcome.of(prepared, app, actions, dry_run=dry_run)
            if dry_run:
                return outcome
            live = self.ctx.db.live_release(app, env)
            if not outcome.changed and live and live.release_id == outcome.release_id:
                self.report(f"{app}/{env} already runs release {outcome.release_id}")
            else:
                self._apply(outcome, workload, note, skip_tests, prepared.release_task)
            target.route()
        outcome.urls = target.urls()
        return outcome

    def _apply(self, outcome: DeployOutcome, workload: Any, note: str, skip_tests: bool, release_task: str) -> None:
        for action in outcome.actions:
            self.report(action.describe())
        record = (outcome.env, outcome.release_id, outcome.image, outcome.commit, outcome.config_revision)
        try:
            if release_task != "skip":  # before any replica of it starts
                self.target.run_release_task(outcome.release_id, workload, self.ctx.db, again=release_task == "again")
            leftover = self._place(outcome, workload)
            if not skip_tests:
                verify_release(self.target.engine, self.spec, outcome.env, outcome.release_id, outcome.image,
                               self.report)
        except DockyardError as exc:
            self.ctx.record(*record, "failed", note, failure=exc)
            self.target.failed()
            raise
        self.ctx.record(*record, "live", note)
        if leftover is not None:  # it serves, tested: say what the next deploy removes
            self.target.route()
            raise leftover

    def _place(self, outcome: DeployOutcome, workload: Any) -> RetireFailed | None:
        """The target's apply; old replicas it could not retire are returned, not raised: the release
        is in place and answers, so it is tested and recorded like any other."""
        try:
            self.target.apply(outcome.actions, workload, self.traits.batch)
        except RetireFailed as exc:
            return exc
        return None

"""Replace replicas where they run, a batch at a time: every new one healthy before an old one goes."""

from __future__ import annotations

from typing import Any

from dockyard.deploy.hooks import HookFailed
from dockyard.deploy.outcome import DeployOutcome, Prepared
from dockyard.deploy.strategies.base import Strategy
from dockyard.deploy.verify import verify_release
from dockyard.errors import DockyardError, ReleaseTestFailed, RetireFailed
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
                target.route()
            else:
                watch = self.start_watch(prepared)
                try:
                    self._apply(outcome, prepared, workload, note, skip_tests)
                    target.route()
                    self.after_switch(prepared, workload)
                    self.watched(watch, prepared)
                finally:
                    if watch is not None:
                        watch.close()
        outcome.urls = target.urls()
        return outcome

    def _apply(self, outcome: DeployOutcome, prepared: Prepared, workload: Any, note: str, skip_tests: bool) -> None:
        for action in outcome.actions:
            self.report(action.describe())
        record = (outcome.env, outcome.release_id, outcome.image, outcome.commit, outcome.config_revision)
        release_task = prepared.release_task
        try:
            self.hook("pre_deploy", prepared, workload)  # before anything of the release starts
            if release_task != "skip":  # before any replica of it starts
                self.target.run_release_task(outcome.release_id, workload, self.ctx.tasks,
                                             again=release_task == "again")
            leftover = self._place(outcome, workload)
            if not skip_tests:
                verify_release(self.target.engine, self.spec, outcome.env, outcome.release_id, outcome.image,
                               self.report)
            self._post_deploy(prepared, workload)
        except DockyardError as exc:
            self.ctx.record(*record, "failed", note, failure=exc)
            self.target.failed()
            raise
        self.ctx.record(*record, "live", note)
        if leftover is not None:  # it serves, tested: say what the next deploy removes
            self.target.route()
            raise leftover

    def _post_deploy(self, prepared: Prepared, workload: Any) -> None:
        """In place, traffic reaches the release as it starts: a failed post_deploy hook is a failed
        test, and the Deployer puts the release before back."""
        try:
            self.hook("post_deploy", prepared, workload)
        except HookFailed as exc:
            raise ReleaseTestFailed(exc.message, hint=exc.hint, reason="a failed post_deploy hook") from exc

    def _place(self, outcome: DeployOutcome, workload: Any) -> RetireFailed | None:
        """The target's apply; old replicas it could not retire are returned, not raised: the release
        is in place and answers, so it is tested and recorded like any other."""
        try:
            self.target.apply(outcome.actions, workload, self.traits.batch)
        except RetireFailed as exc:
            return exc
        return None

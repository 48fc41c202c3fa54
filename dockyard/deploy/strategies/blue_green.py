"""blue-green: the release starts on the idle colour, is checked and tested through the standby
listener, then live traffic switches to it; the old colour stays for the rollback window."""

from __future__ import annotations

from typing import Any

from dockyard.deploy.bluegreen import BlueGreen as Colors
from dockyard.deploy.bluegreen import Release, switch_back
from dockyard.deploy.edge import publish_edge
from dockyard.deploy.history import rollback_pair
from dockyard.deploy.hooks import HookFailed
from dockyard.deploy.outcome import DeployOutcome, Prepared, Report
from dockyard.deploy.strategies.base import Strategy
from dockyard.errors import DeployError
from dockyard.plan.bluegreen import Step
from dockyard.state.db import Release as StoredRelease
from dockyard.state.lock import env_lock


class BlueGreen(Strategy):
    name = "blue-green"

    def deploy(self, prepared: Prepared, workload: Any, dry_run: bool, note: str,
               skip_tests: bool) -> DeployOutcome:
        with env_lock(self.spec.app, self.env):  # the post_switch hook, the watch and their rollback under it too
            watch = None if dry_run else self.start_watch(prepared)
            try:
                outcome = Colors(self.ctx, self.target, Release.of(prepared, workload), skip_tests=skip_tests,
                                 hook=lambda name: self.hook(name, prepared, workload)).deploy(dry_run=dry_run,
                                                                                               note=note)
                if not dry_run:
                    self.target.colors_settled()
                    self._edge_follows()
                    if any(step.kind is Step.SWITCH for step in outcome.actions):
                        self.after_switch(prepared, workload)
                        self.watched(watch, prepared)
            finally:
                if watch is not None:
                    watch.close()
        return outcome

    def roll_back_after(self, failure: DeployError, prepared: Prepared,
                        reason: str = "a failed post_switch hook") -> None:
        """Live traffic back to the colour that still runs the release before (a switch), else the
        Deployer deploys that release again."""
        live, previous = rollback_pair(self.ctx.db, self.spec.app, self.env)
        note = f"rollback to {previous.release_id} (from {live.release_id}) after {reason}"
        if switch_back(self.ctx, self.target, previous, note) is None:
            super().roll_back_after(failure, prepared, reason)
        why = "on_failure: rollback" if isinstance(failure, HookFailed) else "its watch failed"
        raise DeployError(f"{failure.message}\n{self.spec.app}/{self.env} is back on release {previous.release_id} "
                          f"({why})", hint="fix the release and deploy again") from failure

    def recover(self, live_release: str | None, log: Report) -> None:
        """Its own executor repairs an interrupted deploy: the idle colour is meant to differ."""

    def switch_back(self, previous: StoredRelease, note: str) -> DeployOutcome | None:
        return switch_back(self.ctx, self.target, previous, note)

    def _edge_follows(self) -> None:
        """The edge sends the environment's names to the balancer, which follows the switches."""
        router = self.spec.environment(self.env).router
        if router is not None:
            publish_edge(self.spec, self.env, self.ctx.parts.edge(self.report), self.report,
                         (f"127.0.0.1:{router.live}",), (f"127.0.0.1:{router.preview}",))

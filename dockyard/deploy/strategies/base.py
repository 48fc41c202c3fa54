"""What every strategy is: a way of switching an environment to a release, on any Target."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from dockyard.deploy.hooks import HookFailed
from dockyard.deploy.outcome import DeployContext, DeployOutcome, Prepared, Report
from dockyard.deploy.targets import Target
from dockyard.deploy.watch import Watch, WatchFailed
from dockyard.errors import DeployError, ReleaseTestFailed
from dockyard.notify.emit import emit
from dockyard.spec.strategies import StrategyTraits, traits
from dockyard.state.db import Release as StoredRelease


class Strategy(ABC):
    """One deploy of `prepared` to `target`, switched this strategy's way."""

    name: ClassVar[str]  # its name in dockyard.yml, registered in spec/strategies.py

    def __init__(self, ctx: DeployContext, target: Target) -> None:
        self.ctx, self.target = ctx, target
        self.spec, self.env, self.report = ctx.spec, target.env, ctx.report

    @property
    def traits(self) -> StrategyTraits:
        return traits(self.name)

    def describe(self, prepared: Prepared) -> Any:
        """What the target starts for this release, batched this strategy's way."""
        return self.target.describe(prepared, self.traits.batch)

    @abstractmethod
    def deploy(self, prepared: Prepared, workload: Any, dry_run: bool, note: str,
               skip_tests: bool) -> DeployOutcome:
        """Switch the environment to the release; its endpoint tests run unless skip_tests."""

    def recover(self, live_release: str | None, log: Report) -> None:
        """Before an interrupted deploy runs again (the pipeline's resume)."""
        self.target.recover(live_release, log)

    def switch_back(self, previous: StoredRelease, note: str) -> DeployOutcome | None:
        """A rollback without a deploy, where the strategy keeps the previous release at hand (None:
        the caller deploys the previous release afresh)."""
        return None

    # -- hooks (deploy/hooks.py) ------------------------------------------------------------------
    def hook(self, name: str, prepared: Prepared, workload: Any) -> None:
        """Run the app's hook `name` for the release, if it has one and the deploy runs hooks."""
        if prepared.hooks and self.spec.hooks.get(name) is not None:
            self.target.run_hook(name, prepared, workload, self.ctx.tasks)

    def after_switch(self, prepared: Prepared, workload: Any) -> None:
        """The post_switch hook, once live traffic reaches the release (under the deploy's lock). A
        failure rolls back where the environment says `on_failure: rollback`, else the release stays
        live and the deploy fails saying so."""
        try:
            self.hook("post_switch", prepared, workload)
        except HookFailed as exc:
            app, env, release = self.spec.app, self.env, prepared.release_id
            if self.spec.environment(env).on_failure != "rollback":
                raise DeployError(f"{exc.message}\n{app}/{env} stays on release {release} (on_failure: keep)",
                                  hint=f"fix it and deploy again, or `dockyard rollback {env}`; "
                                       f"`on_failure: rollback` ({self.spec.where('environments', env)}) "
                                       "rolls back by itself") from exc
            self.roll_back_after(exc, prepared)

    def roll_back_after(self, failure: DeployError, prepared: Prepared,
                        reason: str = "a failed post_switch hook") -> None:
        """Put the environment back on the release it ran before (a failed post_switch hook, a failed
        watch); raises."""
        said = "\n(on_failure: rollback)" if isinstance(failure, HookFailed) else ""
        raise ReleaseTestFailed(failure.message + said, reason=reason) from failure

    # -- the watch of a release switched whole (deploy/watch.py) ----------------------------------
    def start_watch(self, prepared: Prepared) -> Watch | None:
        """Before anything changes: the edge's requests followed, where the environment has a watch
        (a rollback and a restore are not watched, nor a first release: there is nothing to go back to)."""
        rules = self.spec.environment(self.env).watch
        if rules is None or not prepared.hooks or prepared.previous is None:
            return None
        return Watch(rules, self.spec.app, self.env, self.report)

    def watched(self, watch: Watch | None, prepared: Prepared) -> None:
        """The new live release judged for its watch; a failure brings the release before back."""
        if watch is None:
            return
        try:
            watch.watch(prepared.release_id)
        except WatchFailed as exc:
            app, env = self.spec.app, self.env
            emit(self.ctx.db, f"watch:{app}:{env}:{prepared.release_id}:{time.time():.3f}", "rollout.aborted", app,
                 env, f"{app}/{env}: release {prepared.release_id} failed its watch: {exc.message}",
                 release=prepared.release_id, reason=exc.message)
            self.roll_back_after(exc, prepared, reason="a failed watch")

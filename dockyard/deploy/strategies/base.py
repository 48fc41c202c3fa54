"""What every strategy is: a way of switching an environment to a release, on any Target."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from dockyard.deploy.outcome import DeployContext, DeployOutcome, Prepared, Report
from dockyard.deploy.targets import Target
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

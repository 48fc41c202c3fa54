"""blue-green: the release starts on the idle colour, is checked and tested through the standby
listener, then live traffic switches to it; the old colour stays for the rollback window."""

from __future__ import annotations

from typing import Any

from dockyard.deploy.bluegreen import BlueGreen as Colors
from dockyard.deploy.bluegreen import Release, switch_back
from dockyard.deploy.edge import publish_edge
from dockyard.deploy.outcome import DeployOutcome, Prepared, Report
from dockyard.deploy.strategies.base import Strategy
from dockyard.state.db import Release as StoredRelease


class BlueGreen(Strategy):
    name = "blue-green"

    def deploy(self, prepared: Prepared, workload: Any, dry_run: bool, note: str,
               skip_tests: bool) -> DeployOutcome:
        outcome = Colors(self.ctx, self.target, Release.of(prepared, workload),
                         skip_tests=skip_tests).deploy(dry_run=dry_run, note=note)
        if not dry_run:
            self.target.colors_settled()
            self._edge_follows()
        return outcome

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

"""The one way a deploy is built, for the CLI, the server, the pipeline and the autoscaler.

It lives here, the lowest layer that knows the autoscaler's counts: a deploy keeps the count that
serves now (scale/counts.py), whoever asks for it.
"""

from __future__ import annotations

from dockyard.config.service import ConfigService
from dockyard.deploy.deployer import Deployer, Report
from dockyard.deploy.parts import Parts
from dockyard.scale.counts import deploy_counts
from dockyard.spec import AppSpec
from dockyard.state.db import StateDB


def new_deployer(spec: AppSpec, config: ConfigService, db: StateDB, report: Report, by: str | None = None,
                 parts: Parts | None = None) -> Deployer:
    """A Deployer of `spec`'s releases; `by`: who they are recorded as (default: this host's user)."""
    deployer = Deployer(spec, config, db, report, counts=deploy_counts, parts=parts)
    deployer.by = by
    return deployer

"""What every strategy shares: the release prepared once, the context it is deployed in, and the
outcome. The strategies (deploy/strategies/) and targets (deploy/targets/) take these, never the
Deployer, so none of them imports another's orchestrator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # types only: a rollback's switch back reads the outcome without a deploy's machinery
    from dockyard.config.service import ResolvedConfig
    from dockyard.deploy.one_off import TaskContext
    from dockyard.deploy.parts import Parts
    from dockyard.engine.facts import ImageFacts
    from dockyard.errors import DockyardError
    from dockyard.spec import AppSpec
    from dockyard.state.db import StateDB

Report = Callable[[str], None]


@dataclass(frozen=True)
class Prepared:
    """A release prepared once: the image as the engine has it, its configuration and rendered files."""

    env: str
    image: str
    image_facts: ImageFacts
    release_id: str
    commit: str | None
    resolved: ResolvedConfig
    files: dict[str, bytes] = field(repr=False)
    counts: dict[str, int] = field(default_factory=dict)  # service -> replicas, where the caller decided
    # the app's release task: "once" per release (a deploy), "skip" (a rollback), "again" (a rollback
    # asked to run it: its release ran it before it was live)
    release_task: str = "once"
    hooks: bool = True  # the app's hooks run (a rollback and a restore run none)
    previous: str | None = None  # the release the environment ran before this deploy (hooks are told)

    @property
    def config_revision(self) -> int:
        return self.resolved.revision

    def replicas(self, spec: AppSpec, service: str) -> int:
        """How many replicas of `service` this release runs: the caller's count, else dockyard.yml's."""
        return self.counts.get(service, spec.replicas_for(self.env, service))


class PlacingContext(Protocol):
    """What a Target needs of whoever uses it: the app, where to report, the real parts (a
    deploy's DeployContext is one; teardown gives a Placing)."""

    @property
    def spec(self) -> AppSpec: ...

    @property
    def report(self) -> Report: ...

    @property
    def parts(self) -> Parts: ...


@dataclass
class Placing:
    spec: AppSpec
    report: Report
    parts: Parts


class DeployContext(PlacingContext, Protocol):
    """What a strategy needs from whoever deploys: the app, where to report, the history."""

    db: StateDB

    @property
    def author(self) -> str: ...  # whom the releases, hooks and their audit rows are recorded as

    @property
    def tasks(self) -> TaskContext: ...  # what the release task and hooks run with (deploy/one_off.py)

    def record(self, env: str, release_id: str, image: str, commit: str | None, config_revision: int,
               status: str, note: str = "", failure: DockyardError | None = None) -> None: ...


@dataclass
class DeployOutcome:
    app: str
    env: str
    release_id: str
    image: str
    commit: str | None
    config_revision: int
    actions: list[Any]  # plan.deploy.Action; plan.bluegreen.BGStep in a blue-green environment
    dry_run: bool = False
    urls: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, prepared: Prepared, app: str, actions: list[Any], dry_run: bool = False) -> DeployOutcome:
        return cls(app, prepared.env, prepared.release_id, prepared.image, prepared.commit,
                   prepared.config_revision, actions, dry_run=dry_run)

    @property
    def changed(self) -> bool:
        return not all(a.kind in ("keep", "noop") for a in self.actions)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["commit_sha"] = data.pop("commit")
        data["actions"] = [{"kind": a.kind.value, "service": a.service, "replica": a.replica,
                            "reason": a.reason, "container": a.container.name if a.container else None}
                           for a in self.actions]
        return data

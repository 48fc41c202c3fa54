"""What every placement offers the strategies (deploy/strategies/)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from dockyard.deploy.health import HealthCheck
from dockyard.deploy.hooks import Hooks
from dockyard.deploy.one_off import Place, TaskContext, sweep_one_offs
from dockyard.deploy.outcome import PlacingContext, Prepared, Report
from dockyard.deploy.release_task import ReleaseTask
from dockyard.engine.interface import Engine
from dockyard.engine.rows import Running
from dockyard.errors import DeployError
from dockyard.router.colors import Fleet
from dockyard.state.db import StateDB


class Target(ABC):
    """One environment's placement on one engine, for the length of a deploy."""

    kind: ClassVar[str]

    def __init__(self, ctx: PlacingContext, engine: Engine, env: str) -> None:
        self.ctx, self.engine, self.env = ctx, engine, env
        self.spec, self.report = ctx.spec, ctx.report

    # -- what runs, and what a release starts -----------------------------------------------------
    @abstractmethod
    def observe(self) -> list[Running]:
        """Every replica of the environment as one row each (a container, or a Swarm task)."""

    @abstractmethod
    def describe(self, prepared: Prepared, batch: int | None) -> Any:
        """Everything needed to start the release here (refused here, before anything is touched,
        where this placement cannot run it); `batch` replicas are replaced at a time in place."""

    @abstractmethod
    def urls(self) -> list[str]:
        """Where the environment's replicas answer, once the deploy is done."""

    # -- in place: rolling, recreate --------------------------------------------------------------
    @abstractmethod
    def plan(self, prepared: Prepared, workload: Any) -> list[Any]:
        """The actions that bring what runs to the release described."""

    @abstractmethod
    def apply(self, actions: list[Any], workload: Any, batch: int | None) -> None:
        """Carry the actions out, every new replica healthy before an old one goes; on a failure
        what this apply made is undone and the error raised."""

    def one_offs(self, workload: Any = None) -> Place | None:
        """Where this placement runs one-offs of the release `workload` describes (release tasks,
        hooks): None where it cannot (without a workload: only to find and remove them)."""
        return None

    def check_one_offs(self, prepared: Prepared) -> None:
        """Refuse here, before anything is touched, a release task or hook this placement cannot run."""
        if self.one_offs() is not None:
            return
        used: list[tuple[str, ...]] = [("release",)] if self.spec.release and prepared.release_task != "skip" else []
        used += [("hooks", name) for name in self.spec.hooks.defined()] if prepared.hooks else []
        if used:
            raise DeployError(f"{self.spec.where(*used[0])}: release tasks and hooks run on container engines; "
                              f"{self.spec.app}/{self.env} runs on a {self.kind} placement",
                              hint="run it by hand around the deploy, or deploy this environment to containers")

    def run_release_task(self, release_id: str, workload: Any, tasks: TaskContext, again: bool = False) -> None:
        """The app's release task, once per release (`again`: even if it succeeded), before any
        replica of it starts (check_one_offs refused the deploy where it cannot run)."""
        place = self.one_offs(workload)
        if place is None:
            if self.spec.release is not None:
                raise DeployError(f"{self.spec.app}/{self.env}: a {self.kind} placement runs no release task")
            return
        ReleaseTask(self.spec, place, self.env, tasks, self.report).run(release_id, again)

    def run_hook(self, name: str, prepared: Prepared, workload: Any, tasks: TaskContext) -> None:
        """The app's hook `name` for the release (deploy/hooks.py); HookFailed unless it succeeds."""
        place = self.one_offs(workload)
        if place is None:
            if self.spec.hooks.get(name) is not None:
                raise DeployError(f"{self.spec.app}/{self.env}: a {self.kind} placement runs no hooks")
            return
        Hooks(self.spec, place, self.env, tasks, self.report).run(name, prepared.release_id, prepared.previous)

    def sweep_one_offs(self, db: StateDB) -> None:
        """Before a deploy: the one-offs earlier ones left ended and recorded (deploy/one_off.py) go."""
        place = self.one_offs()
        if place is not None:
            sweep_one_offs(place, self.spec.app, self.env, db)

    def recover(self, live_release: str | None, log: Report) -> None:  # noqa: B027 - Swarm rolls back itself
        """Before a deploy that was interrupted runs again: put back what it left half-done."""

    @abstractmethod
    def remove_all(self) -> list[str]:
        """Remove every replica of the environment (not its accessories, volumes or network)."""

    def release_data(self) -> list[str]:
        """After its volumes were removed (down --purge): what held its data elsewhere; a line each."""
        return []

    def failed(self) -> None:  # noqa: B027 - most placements have nothing to do
        """After a failed apply or test: the edge follows what runs now."""

    @abstractmethod
    def route(self) -> None:
        """Point the environment's names at the environment's answering replicas."""

    # -- two colours: blue-green ------------------------------------------------------------------
    @abstractmethod
    def fleet(self) -> Fleet:
        """The colours' replicas, as the balancer's switchboard reads and retires them."""

    @abstractmethod
    def color_shape(self, workload: Any) -> tuple[frozenset[str], int]:
        """What a colour that runs the release has: its replicas' config hashes, and how many."""

    @abstractmethod
    def color_health(self, workload: Any) -> dict[str, HealthCheck]:
        """service -> how one of its replicas is probed."""

    @abstractmethod
    def start_color(self, workload: Any, color: str, reason: str) -> None:
        """Start the release on `color`; every replica must become healthy."""

    def colors_settled(self) -> None:  # noqa: B027 - most placements have nothing to do
        """After a blue-green deploy: what no colour uses any more may go."""

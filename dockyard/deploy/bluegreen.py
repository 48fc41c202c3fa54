"""Apply a blue/green plan: start the idle colour, check it, test it through the standby balancer,
switch live traffic, keep the old colour for the rollback window, then drain and remove it.

What the steps decide on is read back from the running system (container labels and the
balancer's configuration on disk), so a deploy interrupted at any point is repaired by the next.
A release that fails its health check or a test never reaches the live listener: its colour is
removed and the live one is untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from dockyard.deploy.executor import Executor, Workload
from dockyard.deploy.health import HealthCheck, spec_health
from dockyard.deploy.one_off import TaskContext
from dockyard.deploy.outcome import DeployContext, DeployOutcome, Prepared
from dockyard.deploy.switch_back import SwitchBackParts, resume, roll_back_to_idle
from dockyard.deploy.verify import endpoint_tests
from dockyard.engine import labels as L
from dockyard.engine.containers import ReplicaSpec
from dockyard.engine.interface import Engine
from dockyard.errors import DeployError, DockyardError
from dockyard.plan.bluegreen import BGStep, Step, Target, plan_bluegreen
from dockyard.router.colors import Fleet
from dockyard.router.switch import Switchboard, board_spec, url
from dockyard.state.db import Release as StoredRelease
from dockyard.state.lock import env_lock

Report = Callable[[str], None]


class ColorExecutor(Executor):
    """The rolling executor's parallel start, health wait and undo, with colour names."""

    def _name(self, spec: ReplicaSpec) -> str:
        return L.container_name(spec.app, spec.env, spec.service, spec.replica, spec.color)


def colored(workload: Workload, color: str) -> Workload:
    replicas = {key: replace(spec, color=color, environment={**spec.environment, "DOCKYARD_COLOR": color})
                for key, spec in workload.replicas.items()}
    return replace(workload, replicas=replicas)


class Placement(Protocol):
    """Where the colours run: what a blue-green deploy asks of its Target (deploy/targets/)."""

    engine: Engine
    env: str

    def fleet(self) -> Fleet: ...

    def color_shape(self, workload: Any) -> tuple[frozenset[str], int]: ...

    def color_health(self, workload: Any) -> dict[str, HealthCheck]: ...

    def start_color(self, workload: Any, color: str, reason: str) -> None: ...

    def run_release_task(self, release_id: str, workload: Any, tasks: TaskContext, again: bool = False) -> None: ...


@dataclass
class Release:
    """The release a blue-green deploy puts live, prepared by the Deployer."""

    workload: Any  # a Workload of containers; the Swarm services described (deploy/swarm.py)
    release_id: str
    image: str
    commit: str | None
    config_revision: int
    release_task: str = "skip"  # the app's release task before its colour starts: once, again or skip

    @classmethod
    def of(cls, prepared: Prepared, workload: Any) -> Release:
        return cls(workload, prepared.release_id, prepared.image, prepared.commit, prepared.config_revision,
                   prepared.release_task)


class BlueGreen:
    """One blue-green deploy on a Target: its colours' replicas are the target's (containers, or a
    Swarm service per service and colour), its balancer the environment's."""

    def __init__(self, ctx: DeployContext, placement: Placement, release: Release, skip_tests: bool = False,
                 hook: Callable[[str], None] = lambda name: None) -> None:
        self.ctx, self.placement, self.release = ctx, placement, release
        self.hook = hook  # runs the app's hook of that name for the release (deploy/hooks.py)
        self.engine, self.env = placement.engine, placement.env
        self.skip_tests = skip_tests
        self.parts = ctx.parts
        self.spec = ctx.spec
        self.report = ctx.report
        self.env_spec = self.spec.environment(self.env)
        assert self.env_spec.router is not None  # checked when dockyard.yml is loaded
        self.window = self.env_spec.router.rollback_window
        self.note = ""

    def target(self) -> Target:
        tests = () if self.skip_tests else tuple(endpoint_tests(self.spec, self.env))
        config_hashes, replicas = self.shape()
        assert self.env_spec.router is not None
        return Target(self.release.release_id, config_hashes, replicas, tests, self.window,
                      workers=self.env_spec.router.workers)

    def shape(self) -> tuple[frozenset[str], int]:
        """What a colour that runs the release has: its replicas' config hashes, and how many."""
        return self.placement.color_shape(self.release.workload)

    def deploy(self, dry_run: bool = False, note: str = "") -> DeployOutcome:
        spec, release = self.spec, self.release
        with env_lock(spec.app, self.env):
            board = Switchboard(board_spec(spec, self.env), self.engine, self.report,
                                router=self.parts.balancers(spec.app, self.env, self.report),
                                fleet=self.placement.fleet())
            steps = plan_bluegreen(board.facts(), self.target())
            outcome = DeployOutcome(spec.app, self.env, release.release_id, release.image, release.commit,
                                    release.config_revision, steps, dry_run=dry_run)
            if not dry_run:
                self._apply(board, steps, note)
        outcome.urls = [url(board.state.live_port), url(board.state.preview_port)]
        return outcome

    def _apply(self, board: Switchboard, steps: list[BGStep], note: str) -> None:
        self.note = note
        started = next((s.color for s in steps if s.kind is Step.START), None)
        checked = next((s.color for s in steps if s.kind is Step.CHECK), None)
        switched = False
        began: str | None = None  # the colour this deploy began to start (a failure before: nothing of it runs)
        try:
            if started is not None:  # before its colour starts
                self.hook("pre_deploy")
            if self.release.release_task != "skip" and started is not None:
                self.placement.run_release_task(self.release.release_id, self.release.workload, self.ctx.tasks,
                                                again=self.release.release_task == "again")
            for step in steps:
                if step.kind is Step.SWITCH:  # it runs and passed its tests; live traffic has not reached it
                    self.hook("post_deploy")
                self.report(step.describe())
                if step.kind is Step.START:
                    began = step.color
                self._step(board, step)
                switched = switched or step.kind is Step.SWITCH
        except DockyardError as exc:
            if switched:
                raise
            self._record("failed", note, failure=exc)
            try:
                if began is not None:  # what this deploy started goes; nothing else does
                    board.retire(began, "the release failed its checks; live traffic never reached it")
                elif started is None and checked is not None:
                    self._leave(board, checked)
            except DockyardError as cleanup:
                self.report(f"could not put {started or checked} back: {cleanup.message}")
            raise

    def _leave(self, board: Switchboard, color: str) -> None:
        """A colour this deploy found, not started, is left as it was: a rollback must find it."""
        if self.target().workers == "stop" and color != board.live:
            board.park(color, "back as they were")
        self.report(f"{color} is left as it was (this deploy did not start it): live traffic stays on "
                    f"{board.live or 'nothing'}")

    def _step(self, board: Switchboard, step: BGStep) -> None:
        color, kind = step.color, step.kind
        if kind is Step.ROUTER:
            board.ensure_router()
        elif kind is Step.RETIRE:
            board.retire(color, step.reason)
        elif kind is Step.START:
            self.start(color, step.reason)
        elif kind is Step.CHECK:
            self._check(board, color)
        elif kind is Step.PREVIEW:
            board.route(preview=color)
            self.report(f"standby listener {url(board.state.preview_port)} -> {color}")
        elif kind is Step.TEST:
            self._test(board, step)
        elif kind is Step.SWITCH:
            old = board.live
            keep = old if old and old != color else None
            seconds = board.route(live=color, preview=keep, switched_at=time.time())
            self.report(f"live listener {url(board.state.live_port)} -> {color} "
                        f"(release {self.release.release_id}) in {seconds * 1000:.0f} ms")
            self._record("live", self.note)
        elif kind is Step.PARK:
            try:
                board.park(color, step.reason)
            except DockyardError as exc:  # the release is live: a worker that would not stop is told, not fatal
                self.report(f"could not stop {color}'s workers: {exc.message}")
        elif kind is Step.KEEP:
            self.report(f"{color} stays on {url(board.state.preview_port)}: `dockyard rollback {self.env}` "
                        f"switches back without starting anything")
        elif kind is Step.NOOP:
            self.report(f"{self.spec.app}/{self.env} already runs release {self.release.release_id}")
            board.reconcile()  # its upstreams follow the replicas, wherever an engine restart put them
            live = self.ctx.db.live_release(self.spec.app, self.env)
            if live is None or live.release_id != self.release.release_id:  # its record was lost (a locked db)
                self._record("live", self.note)

    def start(self, color: str, reason: str) -> None:
        """Start the release's replicas on `color`; each must become healthy."""
        self.placement.start_color(self.release.workload, color, reason)

    def health(self) -> dict[str, HealthCheck]:
        return self.placement.color_health(self.release.workload)

    def _check(self, board: Switchboard, color: str) -> None:
        resume(board, color, self.health(), self.parts.probe, self.report)
        self.parts.check([r for r in board.replicas() if r.color == color], self.health())
        self.report(f"{color} is healthy")

    def _test(self, board: Switchboard, step: BGStep) -> None:
        assert step.test is not None
        target = url(board.state.preview_port)
        result = self.engine.run_test(self.spec.tests[step.test], self.release.image, self.spec.app, self.env,
                          target_url=target, extra_env={"DOCKYARD_RELEASE": self.release.release_id})
        self.report(result.summary())
        if not result.passed:
            live = board.live
            raise DeployError(
                f"{result.summary()} through the standby listener {target}; "
                f"live traffic stays on {live or 'nothing'}\n--- output of test {step.test} ---\n"
                f"{result.output.rstrip()[-4000:]}",
                hint="fix the release and deploy again; it never received live traffic")

    def _record(self, status: str, note: str, failure: DockyardError | None = None) -> None:
        r = self.release
        self.ctx.record(self.env, r.release_id, r.image, r.commit, r.config_revision, status, note, failure)


def switch_back(ctx: DeployContext, placement: Placement, previous: StoredRelease, note: str
                ) -> DeployOutcome | None:
    """Rollback while the idle colour still has the previous release (deploy/switch_back.py)."""
    spec, env = ctx.spec, placement.env
    router = spec.environment(env).router
    parts = SwitchBackParts(
        board=lambda: Switchboard(board_spec(spec, env), placement.engine, ctx.report,
                                  router=ctx.parts.balancers(spec.app, env, ctx.report), fleet=placement.fleet()),
        workers=router.workers if router else "stop", health=spec_health(spec), probe=ctx.parts.probe,
        check=ctx.parts.check,
        record=ctx.record, report=ctx.report)
    return roll_back_to_idle(spec.app, env, previous, note, parts)

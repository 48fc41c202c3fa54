"""Pure blue/green planner: what the router serves + what runs per colour -> steps with a reason.

The release procedure of the account, strictly: the idle colour is out of the primary (live)
pool and in the standby (preview) pool; the new release is started on it, health-checked and
tested through the preview listener; then live traffic is switched to it and the old colour
stays idle on preview for the rollback window, after which it is drained and removed.

No I/O here; deploy/bluegreen.py applies the steps and `--dry-run` prints them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

COLORS = ("blue", "green")


def other_color(color: str) -> str:
    return COLORS[1] if color == COLORS[0] else COLORS[0]


class Step(StrEnum):
    ROUTER = "router"  # start the balancer
    RETIRE = "retire"  # take a colour off the balancer, let nginx drain it, remove its containers
    START = "start"  # start the idle colour's replicas and wait until each is healthy
    CHECK = "check"  # the idle colour already has the release: start its parked workers, probe its health
    PREVIEW = "preview"  # point the standby listener at the idle colour
    TEST = "test"  # run one endpoint test with TARGET_URL = the preview listener
    SWITCH = "switch"  # live listener -> the new colour, preview listener -> the old one
    KEEP = "keep"  # the old colour stays idle on preview for the rollback window
    PARK = "park"  # stop the standby colour's services without a port (workers: stop); a rollback starts them
    NOOP = "noop"  # the release is already live


@dataclass(frozen=True)
class BGStep:
    """One step. service/replica/container are there so it prints like a rolling deploy's Action."""

    kind: Step
    color: str
    reason: str
    test: str | None = None
    service: str = ""
    replica: int = 0
    container: None = None

    def describe(self) -> str:
        what = f"{self.color} {self.test}" if self.test else self.color
        return f"{self.kind.value:8} {what}: {self.reason}"


@dataclass(frozen=True)
class ColorFacts:
    """What runs on one colour, read back from the engine's labels."""

    releases: frozenset[str] = frozenset()
    config_hashes: frozenset[str] = frozenset()
    containers: int = 0
    running: int = 0
    parked: int = 0  # replicas without a port that are stopped (the standby colour's workers)
    workers: int = 0  # replicas without a port, running or not


@dataclass(frozen=True)
class Facts:
    live: str | None  # the colour the live listener serves, from the balancer's configuration
    preview: str | None
    switched_at: float | None
    router_running: bool
    colors: dict[str, ColorFacts] = field(default_factory=dict)
    now: float = 0.0

    def color(self, name: str) -> ColorFacts:
        return self.colors.get(name, ColorFacts())


@dataclass(frozen=True)
class Target:
    release: str
    config_hashes: frozenset[str]
    replicas: int  # total across services
    tests: tuple[str, ...] = ()
    window: float = 300.0
    workers: str = "stop"  # router.workers: what the standby colour's workers do


def holds(facts: ColorFacts, target: Target) -> bool:
    """The colour has exactly the target release's replicas, none extra (running or parked)."""
    return (facts.releases == {target.release} and facts.config_hashes == target.config_hashes
            and facts.containers == target.replicas)


def runs(facts: ColorFacts, target: Target) -> bool:
    """The colour runs exactly the target release, every replica up, none extra."""
    return holds(facts, target) and facts.running == facts.containers


def resumable(facts: ColorFacts, target: Target) -> bool:
    """The colour holds the release, every replica up but its parked workers: a CHECK starts them."""
    return holds(facts, target) and facts.running + facts.parked == facts.containers


def window_end(facts: Facts, window: float) -> float | None:
    return facts.switched_at + window if facts.switched_at is not None else None


def plan_housekeeping(facts: Facts, window: float) -> list[BGStep]:
    """Outside a deploy: restart the balancer if it died, retire the idle colour once its window ended."""
    steps = []
    if not facts.router_running and facts.live is not None:
        steps.append(BGStep(Step.ROUTER, facts.live, "the balancer is not running; start it"))
    live = facts.live
    for color in COLORS:
        if color == live or not facts.color(color).containers:
            continue
        end = window_end(facts, window)
        if live is None:
            steps.append(BGStep(Step.RETIRE, color, "no live traffic reaches it (left by an interrupted deploy)"))
        elif end is None or facts.now >= end:
            steps.append(BGStep(Step.RETIRE, color, f"rollback window of {window:g}s ended"))
    return steps


def plan_bluegreen(facts: Facts, target: Target) -> list[BGStep]:
    steps: list[BGStep] = []
    live = facts.live if facts.live and facts.color(facts.live).running else None
    if not facts.router_running:
        steps.append(BGStep(Step.ROUTER, live or COLORS[0], "the balancer is not running; start it"))
    if live and runs(facts.color(live), target):
        steps.append(BGStep(Step.NOOP, live, f"already live with release {target.release}"))
        return steps + [s for s in plan_housekeeping(facts, target.window) if s.kind is Step.RETIRE]

    idle = other_color(live) if live else COLORS[0]
    idle_facts = facts.color(idle)
    if idle_facts.containers and resumable(idle_facts, target):
        parked = f"start its {idle_facts.parked} parked worker(s), " if idle_facts.parked else ""
        steps.append(BGStep(Step.CHECK, idle, f"already has release {target.release}; {parked}probe it again"))
    else:
        if idle_facts.containers:
            old = ", ".join(sorted(idle_facts.releases)) or "?"
            why = ("kept for a rollback; the new release takes its place" if idle == facts.preview and live
                   else "not routed (left by an interrupted or failed deploy)")
            steps.append(BGStep(Step.RETIRE, idle, f"idle with release {old}: {why}"))
        steps.append(BGStep(Step.START, idle, f"{target.replicas} replica(s) of release {target.release}, "
                                              "each must become healthy"))
    steps.append(BGStep(Step.PREVIEW, idle, "standby listener -> the new colour, for its tests"))
    steps += [BGStep(Step.TEST, idle, "through the standby listener", test=name) for name in target.tests]
    if live:
        steps.append(BGStep(Step.SWITCH, idle, f"live traffic {live} -> {idle}; {live} moves to standby"))
        if target.window > 0:
            steps.append(BGStep(Step.KEEP, live, f"kept idle for a rollback for {target.window:g}s"))
            if target.workers == "stop" and facts.color(live).workers:
                steps.append(BGStep(Step.PARK, live, "its workers stop while it stands by (router.workers: stop)"))
        else:
            steps.append(BGStep(Step.RETIRE, live, "rollback window is 0: drain and remove now"))
    else:
        steps.append(BGStep(Step.SWITCH, idle, f"first live colour: {idle}"))
        stray = other_color(idle)
        if facts.color(stray).containers:
            steps.append(BGStep(Step.RETIRE, stray, "not routed (left by an interrupted deploy)"))
    return steps

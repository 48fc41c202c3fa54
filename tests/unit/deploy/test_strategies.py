"""The strategy and target registries, and the in-place strategies' contract with any Target: the
order of a Target's steps, the release recorded once, and a failure recorded, handed back to the
target and raised (issue 29). A Target here is a recorder: the targets' own tests (the executor on
the fake engine, the Swarm executor against a real Swarm) cover what each step does."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dockyard.config.service import ResolvedConfig
from dockyard.deploy.one_off import Finished, TaskContext
from dockyard.deploy.outcome import Prepared
from dockyard.deploy.parts import Parts
from dockyard.deploy.strategies import STRATEGIES, strategy_for
from dockyard.deploy.targets import TARGETS, Target
from dockyard.engine.facts import ImageFacts
from dockyard.engine.interface import Engine
from dockyard.engine.placement import CONTAINERS, SWARM
from dockyard.errors import DockyardError, HealthCheckFailed
from dockyard.plan.deploy import Action, Kind
from dockyard.spec import AppSpec, parse_spec
from dockyard.spec.strategies import NAMES, traits
from dockyard.state.db import StateDB
from tests.fakes.engine import FakeEngine

SPEC = """\
app: shop
services:
  web: {command: [httpd, -f, -p, "8080"], port: 8080, replicas: 2}
environments:
  testing: {strategy: rolling}
  staging: {strategy: recreate}
"""


def test_every_strategy_name_has_one_strategy_and_every_placement_one_target() -> None:
    assert sorted(STRATEGIES) == sorted(NAMES)
    assert sorted(TARGETS) == sorted({CONTAINERS.kind, SWARM.kind})
    assert (traits("rolling").batch, traits("recreate").batch) == (1, None)
    assert traits("blue-green").colors and traits("blue-green").tests_before_live
    assert not traits("rolling").colors and traits("rolling").in_place


class Recorder(Target):
    """A Target that says what it was asked, in order."""

    kind = "recorder"

    def __init__(self, ctx: Any, engine: Engine, env: str, planned: list[Any], fail: bool = False) -> None:
        super().__init__(ctx, engine, env)
        self.calls: list[str] = []
        self.planned, self.fail = planned, fail

    def observe(self) -> list[Any]:
        return []

    def describe(self, prepared: Prepared, batch: int | None) -> Any:
        self.calls.append(f"describe batch={batch}")
        return "workload"

    def urls(self) -> list[str]:
        self.calls.append("urls")
        return ["http://127.0.0.1:1"]

    def plan(self, prepared: Prepared, workload: Any) -> list[Any]:
        self.calls.append(f"plan {workload}")
        return self.planned

    def apply(self, actions: list[Any], workload: Any, batch: int | None) -> None:
        self.calls.append(f"apply {len(actions)} batch={batch}")
        if self.fail:
            raise HealthCheckFailed("web-1 did not become healthy")

    def failed(self) -> None:
        self.calls.append("failed")

    def route(self) -> None:
        self.calls.append("route")

    def remove_all(self) -> list[str]:
        return []

    def fleet(self) -> Any:
        raise AssertionError("no colours in place")

    def color_shape(self, workload: Any) -> tuple[frozenset[str], int]:
        raise AssertionError("no colours in place")

    def color_health(self, workload: Any) -> dict[str, Any]:
        raise AssertionError("no colours in place")

    def start_color(self, workload: Any, color: str, reason: str) -> None:
        raise AssertionError("no colours in place")


@dataclass
class Context:
    spec: AppSpec
    db: StateDB
    parts: Parts = field(default_factory=Parts)
    lines: list[str] = field(default_factory=list)
    records: list[tuple[str, str]] = field(default_factory=list)

    def report(self, line: str) -> None:
        self.lines.append(line)

    author = "tester"

    @property
    def tasks(self) -> TaskContext:
        return TaskContext(self.db, self.author, Finished(0.0))

    def record(self, env: str, release_id: str, image: str, commit: str | None, config_revision: int,
               status: str, note: str = "", failure: DockyardError | None = None) -> None:
        self.records.append((release_id, status))


def prepared(env: str) -> Prepared:
    return Prepared(env, "shop@sha256:" + "1" * 64, ImageFacts("sha256:1"), "r1", None,
                    ResolvedConfig(env=env, app="shop", revision=1, values={}, secret_keys=frozenset(), sources={}), {})


def deploy(home: Path, env: str, planned: list[Any]) -> tuple[Context, Recorder]:
    ctx = Context(parse_spec(SPEC, base_dir=home), StateDB())
    target = Recorder(ctx, FakeEngine(), env, planned)
    strategy = strategy_for(ctx.spec.environment(env).strategy, ctx, target)
    release = prepared(env)
    strategy.deploy(release, strategy.describe(release), dry_run=False, note="", skip_tests=True)
    return ctx, target


@pytest.mark.parametrize(("env", "batch"), [("testing", 1), ("staging", None)])
def test_in_place_plans_applies_records_then_routes(dockyard_env: Path, env: str, batch: int | None) -> None:
    ctx, target = deploy(dockyard_env, env, [Action(Kind.CREATE, "web", 1, "missing replica")])
    assert target.calls == [f"describe batch={batch}", "plan workload", f"apply 1 batch={batch}", "route", "urls"]
    assert ctx.records == [("r1", "live")]


def test_a_failure_leaves_the_target_to_settle_and_records_failed(dockyard_env: Path) -> None:
    ctx = Context(parse_spec(SPEC, base_dir=dockyard_env), StateDB())
    target = Recorder(ctx, FakeEngine(), "testing", [Action(Kind.CREATE, "web", 1, "missing")], fail=True)
    strategy = strategy_for("rolling", ctx, target)
    with pytest.raises(HealthCheckFailed):
        strategy.deploy(prepared("testing"), "workload", dry_run=False, note="", skip_tests=True)
    assert target.calls == ["plan workload", "apply 1 batch=1", "failed"]  # never routed to the failed release
    assert ctx.records == [("r1", "failed")]


def test_nothing_to_change_is_said_and_only_routed(dockyard_env: Path) -> None:
    ctx = Context(parse_spec(SPEC, base_dir=dockyard_env), StateDB())
    ctx.db.add_release("shop", "testing", "r1", "img", None, 1, "live", "tester")
    target = Recorder(ctx, FakeEngine(), "testing", [])
    strategy_for("rolling", ctx, target).deploy(prepared("testing"), "workload", dry_run=False, note="",
                                                skip_tests=True)
    assert target.calls == ["plan workload", "route", "urls"]
    assert ctx.records == [] and ctx.lines == ["shop/testing already runs release r1"]


def test_a_dry_run_plans_and_touches_nothing(dockyard_env: Path) -> None:
    ctx = Context(parse_spec(SPEC, base_dir=dockyard_env), StateDB())
    target = Recorder(ctx, FakeEngine(), "testing", [Action(Kind.CREATE, "web", 1, "missing")])
    outcome = strategy_for("rolling", ctx, target).deploy(prepared("testing"), "workload", dry_run=True, note="",
                                                          skip_tests=True)
    assert target.calls == ["plan workload"] and outcome.dry_run and ctx.records == []

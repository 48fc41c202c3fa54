"""A pull request's preview run (issue 33): build, push, the `from` environment's image tests, the
preview's preparation, its deploy, its endpoint tests; the default branch's spec decides which."""

from __future__ import annotations

import pytest

from dockyard.errors import SpecError
from dockyard.pipeline.model import StepDef
from dockyard.pipeline.previews import plan_preview, run_branch
from dockyard.spec import parse_spec

SPEC = """\
app: shop
registries: {local: 127.0.0.1:5000}
services: {web: {port: 8080}}
tests:
  unit: {run: [sh, /t.sh]}
  smoke: {run: [sh, -c, 'wget $TARGET_URL']}
  load: {run: [sh, /load.sh]}
pipeline:
  branches: {main: []}
environments:
  testing: {tests: [load]}
  staging: {tests: [smoke, unit], promote: manual, strategy: blue-green, router: {live: 8000, preview: 8001}}
  production: {}
previews: {from: staging, domain: "pr-{number}.preview.test"}
"""


def test_a_preview_run_builds_tests_prepares_and_deploys() -> None:
    spec = parse_spec(SPEC)
    assert plan_preview(spec, 7, spec) == [
        StepDef("build", "", "build image"), StepDef("push", "", "push to registries"),
        StepDef("test", "pr-7", "unit"),
        StepDef("preview", "pr-7", "prepare preview pr-7"),
        StepDef("deploy", "pr-7", "deploy to pr-7"),
        StepDef("test", "pr-7", "smoke"),
    ]
    assert run_branch(7) == "pull/7"  # no branch pattern needs to match it


def test_the_default_branch_decides_the_tests() -> None:
    policy = parse_spec(SPEC)
    # the pull request lists load instead of unit for staging: the default branch's list is what runs
    commit = parse_spec(SPEC.replace("tests: [smoke, unit]", "tests: [smoke, load]"))
    assert [(s.kind, s.name) for s in plan_preview(policy, 12, commit)] == [
        ("build", "build image"), ("push", "push to registries"), ("test", "unit"),
        ("preview", "prepare preview pr-12"), ("deploy", "deploy to pr-12"), ("test", "smoke")]
    without = parse_spec(SPEC.replace("  unit: {run: [sh, /t.sh]}\n", "").replace("tests: [smoke, unit]",
                                                                                 "tests: [smoke]"))
    with pytest.raises(SpecError) as refused:
        plan_preview(policy, 12, without)
    assert refused.value.problems == [
        "dockyard.yml: tests.unit: the default branch requires test 'unit' in pr-12; this commit does not define it"]


def test_a_preview_without_tests_is_build_prepare_deploy() -> None:
    spec = parse_spec(SPEC.replace("tests: [smoke, unit], ", ""))
    assert [(s.kind, s.env) for s in plan_preview(spec, 3, spec)] == [
        ("build", ""), ("push", ""), ("preview", "pr-3"), ("deploy", "pr-3")]

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import DockyardError
from dockyard.pipeline.model import StepDef, plan_run
from dockyard.pipeline.store import RunStore
from dockyard.pipeline.triggers import parse_post_receive
from dockyard.spec import parse_spec
from dockyard.state.db import StateDB

SPEC = """\
app: shop
registries: {local: 127.0.0.1:5000}
services: {web: {port: 8080}}
tests:
  unit: {run: [sh, /t.sh]}
  smoke: {run: [sh, -c, 'wget $TARGET_URL']}
pipeline:
  branches: {main: [], "feature/*": [testing]}
environments:
  testing: {tests: [unit, smoke]}
  staging: {tests: [smoke], promote: manual}
  production: {}
"""


def test_plan_for_main_goes_through_every_environment() -> None:
    steps = plan_run(parse_spec(SPEC), "main")
    assert steps == [
        StepDef("build", "", "build image"), StepDef("push", "", "push to registries"),
        StepDef("test", "testing", "unit"), StepDef("deploy", "testing", "deploy to testing"),
        StepDef("test", "testing", "smoke"), StepDef("gate", "testing", "auto promotion to staging"),
        StepDef("deploy", "staging", "deploy to staging"), StepDef("test", "staging", "smoke"),
        StepDef("gate", "staging", "manual promotion to production"),
        StepDef("deploy", "production", "deploy to production"),
    ]


def test_branch_patterns_choose_the_path() -> None:
    spec = parse_spec(SPEC)
    assert [s.env for s in plan_run(spec, "feature/x") or []] == ["", "", "testing", "testing", "testing"]
    assert plan_run(spec, "hotfix") is None
    assert spec.pipeline.environments_for("anything", ["a"]) is None
    default = parse_spec(SPEC.replace('  branches: {main: [], "feature/*": [testing]}\n', "  supersede: false\n"))
    assert default.pipeline.environments_for("any-branch", ["testing", "staging"]) == ["testing", "staging"]


def test_parse_post_receive_skips_deletions_and_tags() -> None:
    text = ("0000000000000000000000000000000000000000 " + "a" * 40 + " refs/heads/main\n"
            + "b" * 40 + " 0000000000000000000000000000000000000000 refs/heads/gone\n"
            + "0" * 40 + " " + "c" * 40 + " refs/tags/v1\n")
    assert parse_post_receive(text) == [("a" * 40, "main")]


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(StateDB(tmp_path / "state.db"))


STEPS = [StepDef("build", "", "build image"), StepDef("gate", "testing", "manual promotion to staging"),
         StepDef("deploy", "staging", "deploy to staging")]


def test_newer_commit_supersedes_queued_run_of_the_same_branch(store: RunStore) -> None:
    first = store.create_run("shop", "a" * 40, "main", "hook", STEPS, supersede=True)
    other = store.create_run("shop", "b" * 40, "dev", "hook", STEPS, supersede=True)
    second = store.create_run("shop", "c" * 40, "main", "hook", STEPS, supersede=True)
    assert store.run(first).status == "superseded" and "superseded by a newer commit ccccccc" in store.run(first).error
    assert store.run(other).status == "queued" and store.run(second).status == "queued"
    kept = store.create_run("shop", "d" * 40, "dev", "hook", STEPS, supersede=False)
    assert store.run(other).status == "queued" and store.run(kept).status == "queued"


def test_claim_approve_cancel_and_recover(store: RunStore) -> None:
    run_id = store.create_run("shop", "a" * 40, "main", "hook", STEPS, supersede=True)
    claimed = store.claim_next("worker-1")
    assert claimed is not None and claimed.id == run_id and claimed.status == "running"
    assert store.claim_next("worker-2") is None
    with pytest.raises(DockyardError, match="not waiting for an approval"):
        store.approve(run_id, "alice")
    store.start_step(run_id, 0)
    store.end_step(run_id, 0, "succeeded")
    store.end_step(run_id, 1, "waiting")
    store.finish_run(run_id, "waiting")
    step = store.approve(run_id, "alice")
    assert step.approved_by == "alice" and step.status == "succeeded" and "approved by alice" in step.output
    assert store.run(run_id).status == "queued"

    # A worker that died mid-step: its run is queued again and the step runs again.
    store.claim_next("worker-1")
    store.start_step(run_id, 2)
    store.conn.execute("UPDATE runs SET heartbeat = heartbeat - 60 WHERE id=?", (run_id,))
    assert store.recover() == [run_id]
    assert store.run(run_id).status == "queued"
    assert store.steps(run_id)[2].status == "pending" and "interrupted" in store.steps(run_id)[2].output

    store.cancel(run_id, "bob")
    assert store.run(run_id).status == "cancelled"
    assert [s.status for s in store.steps(run_id)] == ["succeeded", "succeeded", "cancelled"]
    with pytest.raises(DockyardError, match="already ended"):
        store.cancel(run_id, "bob")


def test_step_output_masks_secret_values() -> None:
    from dockyard.pipeline.runner import mask

    assert mask("password=hunter22 and hunter22x", ["hunter22x", "hunter22"]) == "password=*** and ***"

"""Where a branch may go comes from the default branch, not the commit (issue 12, finding 3); request
bodies are capped before they are read (finding 7); webhook deliveries count once (finding 8)."""
from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from dockyard.errors import Forbidden, SpecError
from dockyard.pipeline.model import plan_run
from dockyard.pipeline.store import RunStore
from dockyard.server.hooks import delivery_id
from dockyard.server.limits import BodyLimit
from dockyard.spec import parse_spec
from dockyard.state.db import StateDB
from tests.unit.pipeline.test_plan_and_store import SPEC

# What a feature branch's own commit says: run me everywhere, promote automatically, skip tests.
BRANCH_SPEC = SPEC.replace('"feature/*": [testing]', '"feature/*": []').replace(
    "staging: {tests: [smoke], promote: manual}", "staging: {promote: auto}")


def test_a_branch_cannot_widen_its_own_path() -> None:
    policy, commit = parse_spec(SPEC), parse_spec(BRANCH_SPEC)
    assert "production" in {s.env for s in plan_run(commit, "feature/x") or []}  # what the commit alone says
    steps = plan_run(policy, "feature/x", commit) or []
    assert {s.env for s in steps} == {"", "testing"}
    main = plan_run(policy, "main", commit) or []
    assert [s.name for s in main if s.kind == "gate"] == ["auto promotion to staging", "manual promotion to production"]
    assert [s.name for s in main if s.kind == "test" and s.env == "staging"] == ["smoke"]  # the policy's tests


def test_a_commit_that_drops_a_required_test_is_refused() -> None:
    commit = parse_spec(SPEC.replace("  smoke: {run: [sh, -c, 'wget $TARGET_URL']}\n", "").replace(
        "testing: {tests: [unit, smoke]}", "testing: {tests: [unit]}").replace(
        "staging: {tests: [smoke], promote: manual}", "staging: {promote: manual}"))
    with pytest.raises(SpecError, match="requires test 'smoke'"):
        plan_run(parse_spec(SPEC), "main", commit)


def capped_app(max_bytes: int) -> FastAPI:
    app = FastAPI()
    seen: list[int] = []

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append(len(body))
        return {"read": len(body)}

    @app.post("/json")
    def parsed(payload: dict) -> dict[str, int]:
        return {"keys": len(payload)}

    app.add_middleware(BodyLimit, max_bytes=max_bytes)
    app.state.seen = seen
    return app


def test_a_declared_body_over_the_cap_gets_413_before_it_is_read() -> None:
    app = capped_app(1024)
    with TestClient(app) as client:
        assert client.post("/raw", content=b"x" * 1024).json() == {"read": 1024}
        refused = client.post("/raw", content=b"x" * 1025)
        assert refused.status_code == 413 and "1 KiB" in refused.json()["error"]
        assert app.state.seen == [1024]


def test_a_chunked_body_is_cut_at_the_cap() -> None:
    app = capped_app(1024)

    def chunks():
        for _ in range(100):
            yield b"y" * 512

    with TestClient(app) as client:
        assert client.post("/raw", content=chunks()).status_code == 413
        assert client.post("/json", content=chunks(), headers={"content-type": "application/json"}).status_code == 413
        assert app.state.seen == []


def test_delivery_ids_come_from_the_provider_else_the_body() -> None:
    assert delivery_id({"X-GitHub-Delivery": "abc"}, b"{}") == "abc"
    assert delivery_id({"x-gitea-delivery": "d1"}, b"{}") == "d1"
    assert delivery_id({}, b"{}") == delivery_id({}, b"{}") != delivery_id({}, b"{ }")


def test_a_run_started_by_a_token_cannot_be_approved_by_it(tmp_path: Path) -> None:
    from dockyard.pipeline.model import StepDef

    store = RunStore(StateDB(tmp_path / "state.db"))
    steps = [StepDef("build", "", "b"), StepDef("gate", "staging", "manual promotion to production")]
    run_id = store.create_run("shop", "a" * 40, "main", "api", steps, supersede=False, started_by="alice")
    store.conn.execute("UPDATE runs SET status='waiting' WHERE id=?", (run_id,))
    store.conn.execute("UPDATE steps SET status='waiting' WHERE run_id=? AND idx=1", (run_id,))
    with pytest.raises(Forbidden, match="four eyes"):
        store.approve(run_id, "alice")
    assert store.approve(run_id, "alice", four_eyes=lambda env: env != "staging").approved_by == "alice"

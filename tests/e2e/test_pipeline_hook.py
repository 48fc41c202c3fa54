"""The delivery flow from a git hook: commit -> run -> testing -> staging -> approval -> production,
then a commit whose smoke test fails in staging and never reaches production."""

from __future__ import annotations

import json
import time

import pytest

from tests.apps import TestApp
from tests.conftest import run_cli

pytestmark = pytest.mark.e2e


def cli_json(*args: str):
    result = run_cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_for_run(commit: str, statuses: tuple[str, ...], timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = [r for r in cli_json("pipeline", "ls") if r["commit_sha"] == commit]
        if runs and runs[0]["status"] in statuses:
            return runs[0]
        time.sleep(0.5)
    raise AssertionError(f"run of {commit[:7]} did not reach {statuses}: {runs}")


def step_statuses(run: dict) -> list[tuple[str, str, str]]:
    return [(s["kind"], s["env"], s["status"]) for s in run["steps"]]


def test_commit_to_production_through_a_hook_and_a_failing_commit_stops_in_staging(test_app: TestApp) -> None:
    for env in ("testing", "staging", "production"):
        assert run_cli("config", "set", env, f"GREETING=hi-{env}").returncode == 0
    installed = run_cli("hook", "install")
    assert installed.returncode == 0, installed.stderr

    test_app.write("www/index.html", "v2\n")
    good = test_app.commit("v2")  # the post-commit hook queues a run and starts a worker
    run = wait_for_run(good, ("waiting", "failed", "interrupted"))
    assert run["status"] == "waiting", run
    assert run["trigger"] == "post-commit"
    assert step_statuses(run)[-2:] == [("gate", "staging", "waiting"), ("deploy", "production", "pending")]
    approved = run_cli("pipeline", "approve", str(run["id"]))
    assert approved.returncode == 0 and "approved by tester" in approved.stdout
    run = wait_for_run(good, ("succeeded", "failed", "interrupted"))
    assert run["status"] == "succeeded", run
    gate = next(s for s in run["steps"] if s["kind"] == "gate" and s["env"] == "staging")
    assert gate["approved_by"] == "tester" and gate["approved_at"]
    production = cli_json("ps", "production")
    assert {c["commit_sha"] for c in production} == {good}
    good_release = production[0]["release_id"]

    # A change that passes in testing but fails its smoke test against staging's configuration.
    spec = test_app.spec_file.read_text().replace(
        'wget -qO- "$TARGET_URL/health" | grep -q ok && echo smoke ok',
        'wget -qO- "$TARGET_URL/cgi-bin/env" | grep -q GREETING=hi-testing && echo smoke ok')
    test_app.write("dockyard.yml", spec)
    bad = test_app.commit("smoke only passes in testing")
    run = wait_for_run(bad, ("succeeded", "failed", "interrupted", "waiting"))
    assert run["status"] == "failed", run
    statuses = step_statuses(run)
    assert ("test", "staging", "failed") in statuses
    assert statuses[-2:] == [("gate", "staging", "skipped"), ("deploy", "production", "skipped")]
    assert {c["commit_sha"] for c in cli_json("ps", "testing")} == {bad}
    staging = cli_json("ps", "staging")
    assert {c["commit_sha"] for c in staging} == {good} and all(c["health"] == "healthy" for c in staging)
    production = cli_json("ps", "production")
    assert {c["release_id"] for c in production} == {good_release}
    logs = run_cli("pipeline", "logs", str(run["id"])).stdout
    assert "test smoke: failed" in logs and "staging is back on release" in logs
    staging_releases = cli_json("releases", "staging")
    assert staging_releases[0]["status"] == "live" and staging_releases[1]["status"] == "failed"

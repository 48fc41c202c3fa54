"""A test runs against the release it tests (issue 27): a rolling or recreate deploy runs the
environment's endpoint tests against a replica of the new release, with DOCKYARD_RELEASE set; a
release that fails one is replaced by the previous release; --skip-tests skips them and is audited."""

from __future__ import annotations

import json

import pytest

from tests.apps import TestApp
from tests.conftest import run_cli

pytestmark = pytest.mark.integration

# The endpoint must answer with the release under test: a test run against another release fails.
VERSION_TEST = """\
  version: {run: [sh, -c, 'wget -qO- "$TARGET_URL/cgi-bin/env" | grep -qx "DOCKYARD_RELEASE=$DOCKYARD_RELEASE"
                  && wget -qO- "$TARGET_URL/health" | grep -q ok && echo "saw $DOCKYARD_RELEASE"']}
environments:"""


def ok(*args: str) -> str:
    result = run_cli(*args)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def live(env: str) -> str:
    return next(r["release_id"] for r in json.loads(ok("releases", env, "--json")) if r["status"] == "live")


@pytest.mark.parametrize("strategy", ["rolling", "recreate"])
def test_endpoint_tests_reach_the_new_release_and_a_failure_puts_the_old_one_back(test_app: TestApp,
                                                                                  strategy: str) -> None:
    spec = test_app.spec_file.read_text().replace("environments:", VERSION_TEST, 1)
    spec = spec.replace("testing: {engine: local, registry: local, tests: [unit, smoke]}",
                        f"testing: {{engine: local, registry: local, strategy: {strategy}, tests: [smoke, version]}}")
    test_app.write("dockyard.yml", spec)
    test_app.commit("version test")
    ok("build")
    ok("config", "set", "testing", "GREETING=one")
    first = ok("deploy", "testing")
    one = live("testing")
    assert f"saw {one}" not in first  # a test's output is not printed when it passes, its verdict is
    assert f"test     version: against release {one} at http://127.0.0.1:" in first
    assert "test version: passed" in first

    ok("config", "set", "testing", "GREETING=two")
    second = ok("deploy", "testing")
    two = live("testing")
    assert two != one and f"test     version: against release {two}" in second

    # A release whose health page answers but whose smoke test fails: it is replaced by `two` again.
    test_app.write("www/health", "not yet\n")
    test_app.commit("smoke fails")
    ok("build")
    failed = run_cli("deploy", "testing")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "failed test smoke: failed (exit 1)" in failed.stderr
    assert f"is back on release {two}" in failed.stderr and "Traceback" not in failed.stderr
    assert live("testing") == two
    history = json.loads(ok("releases", "testing", "--json"))
    assert [r["status"] for r in history[:2]] == ["live", "failed"]

    # --skip-tests deploys it anyway, and the audit log says so.
    ok("deploy", "testing", "--skip-tests")
    assert live("testing") != two
    audit = json.loads(ok("audit", "--json"))
    rows = audit if isinstance(audit, list) else audit["entries"]
    assert any(r["action"] == "deploy" and "--skip-tests" in (r["detail"] or "") for r in rows), rows[:3]


def test_a_rolling_pipeline_run_s_tests_see_the_release_it_deployed(test_app: TestApp) -> None:
    """The v2 run's deploy and test steps saw v2 (its endpoint test asserts DOCKYARD_RELEASE), never v1."""
    spec = test_app.spec_file.read_text().replace("environments:", VERSION_TEST, 1)
    spec = spec.replace("testing: {engine: local, registry: local, tests: [unit, smoke]}",
                        "testing: {engine: local, registry: local, strategy: rolling, tests: [smoke, version]}")
    test_app.write("dockyard.yml", spec)
    test_app.commit("version test")
    ok("config", "set", "testing", "GREETING=one")
    ok("config", "set", "staging", "GREETING=one")
    ok("pipeline", "run")  # through testing; it waits at staging's gate
    one = live("testing")
    test_app.write("www/index.html", "v2\n")
    test_app.commit("v2")
    run = json.loads(ok("pipeline", "run", "--json"))
    two = live("testing")
    logs = ok("pipeline", "logs", str(run["id"]))
    assert two != one and run["status"] == "waiting", logs
    # the run's test step, against a replica of the release it deployed: the test passes only if the
    # endpoint answers with the DOCKYARD_RELEASE it was given, and it says which one it saw
    assert "running version (endpoint) against http://127.0.0.1:" in logs
    tested = logs.split("running version (endpoint)")[1].split("\n== ")[0]  # that step alone
    assert f"saw {two}" in tested and "test version: passed" in tested and one not in tested

"""A pipeline's endpoint tests test the release the run deployed (issue 27): in a blue/green
production the v2 run's tests saw v2, through the standby listener before the switch and on the new
colour's replica after it, never the v1 colour standing by."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.integration.bluegreen.test_bluegreen_cli import bg_status, ok

pytestmark = pytest.mark.integration

# RELEASE_CGI answers "RELEASE COLOR": the test passes only against the release it was given.
VERSION = """\
  version: {run: [sh, -c, 'wget -qO- "$TARGET_URL/cgi-bin/release" | grep -q "^$DOCKYARD_RELEASE "
                  && echo "saw $DOCKYARD_RELEASE at $TARGET_URL"'], timeout: 20s}
environments:"""


def run_logs() -> tuple[dict, str]:
    runs = json.loads(ok("pipeline", "ls", "--json"))
    run = runs[0]
    return run, run_cli("pipeline", "logs", str(run["id"])).stdout


def test_each_runs_endpoint_tests_see_the_release_it_deployed(bg_app) -> None:
    app, _live, preview = bg_app
    spec = app.spec_file.read_text().replace("environments:", VERSION, 1).replace("tests: [smoke]",
                                                                                  "tests: [smoke, version]")
    app.write("dockyard.yml", spec)
    app.commit("a version test")
    ok("config", "set", "production", "GREETING=one")
    first = run_cli("pipeline", "run")
    assert first.returncode == 0, first.stdout + first.stderr
    one = bg_status()["live"]["release_id"]

    app.write("www/index.html", "v2\n")
    app.commit("v2")
    second = run_cli("pipeline", "run")
    assert second.returncode == 0, second.stdout + second.stderr
    status = bg_status()
    two = status["live"]["release_id"]
    assert two != one and status["preview"]["release_id"] == one  # v1 still stands by: a test could reach it
    run, logs = run_logs()
    assert run["status"] == "succeeded", logs
    # before the switch, through the standby listener (the deploy step) ...
    assert f"test     {status['live']['color']} version: through the standby listener" in logs
    # ... and the run's own test step, against a replica of the release it deployed
    assert "running version (endpoint) against http://127.0.0.1:" in logs
    assert "test version: passed" in logs and one not in logs.split("running version")[1]

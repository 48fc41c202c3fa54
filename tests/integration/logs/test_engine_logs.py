"""`dockyard logs ENV` without an agent (issue 27): the engine's own logs of the environment's
containers, said to be so, with each line's container, service and stream."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.apps import TestApp
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def test_logs_read_the_engine_when_no_agent_keeps_a_store(test_app: TestApp) -> None:
    assert run_cli("build").returncode == 0
    assert run_cli("config", "set", "testing", "GREETING=hi").returncode == 0
    assert run_cli("deploy", "testing", "--skip-tests").returncode == 0
    rows = json.loads(run_cli("ps", "testing", "--json").stdout)
    httpx.get(rows[0]["url"] + "/cgi-bin/log?engine-logs-1", timeout=5)  # "logged ..." on its stderr
    result = run_cli("logs", "testing", "web")
    assert result.returncode == 0, result.stderr
    assert "no log store here" in result.stderr and "reading the engine's logs" in result.stderr
    line = next(x for x in result.stdout.splitlines() if "logged engine-logs-1" in x and " stderr: " in x)
    assert f"{rows[0]['name']} testing/web stderr: logged engine-logs-1" in line
    found = json.loads(run_cli("logs", "testing", "--grep", "engine-logs-1", "--json").stdout)
    assert [(x["stream"], x["service"], x["container"]) for x in found] == [("stderr", "web", rows[0]["name"])]

    # -f: what is logged while it follows, once
    dockyard = str(Path(sys.executable).parent / "dockyard")
    follower = subprocess.Popen([dockyard, "logs", "testing", "web", "-f", "--follow-for", "6"], cwd=test_app.path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    httpx.get(rows[0]["url"] + "/cgi-bin/log?engine-logs-2", timeout=5)
    followed, _ = follower.communicate(timeout=60)
    assert follower.returncode == 0
    assert followed.count("logged engine-logs-2") == 1 and followed.count("logged engine-logs-1") == 1, followed

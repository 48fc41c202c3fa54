"""While a deploy waits for health it says what it probes and what the process listens on (issue 27):
a service whose process listens on another port than its spec says is told so, with both ports."""

from __future__ import annotations

import pytest

from tests.apps import TestApp
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def test_a_wait_shows_progress_and_a_failure_names_the_port_the_process_listens_on(test_app: TestApp) -> None:
    spec = test_app.spec_file.read_text()
    spec = spec.replace("port: 8080", "port: 8081", 1).replace("start_period: 8s", "start_period: 7s")
    spec = spec.replace("replicas: 2", "replicas: 1", 1)
    test_app.write("dockyard.yml", spec)  # httpd still listens on 8080
    test_app.commit("the wrong port")
    assert run_cli("build").returncode == 0
    assert run_cli("config", "set", "testing", "GREETING=hi").returncode == 0
    failed = run_cli("deploy", "testing")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    out = failed.stdout + failed.stderr
    name = f"{test_app.name}_testing_web_1"
    # a progress line after 5 s: what is probed, where, and what the process listens on
    assert f"{name}: 5s of 7s, waiting for GET /health on 127.0.0.1:" in out, out
    assert "(container port 8081)" in out
    assert "it listens on 8080, not 8081" in out
    assert "not healthy after 7s" in failed.stderr and "it listens on 8080, not 8081" in failed.stderr
    assert "Traceback" not in out

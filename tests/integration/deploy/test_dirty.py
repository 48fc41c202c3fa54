"""Uncommitted changes have one way forward (issue 27): deploy says to commit or build --allow-dirty;
a -dirty build goes to the first environment and is never deployed or promoted past it."""

from __future__ import annotations

import json

import pytest

from tests.apps import TestApp
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def test_a_dirty_build_reaches_the_first_environment_only(test_app: TestApp) -> None:
    for env in ("testing", "staging"):
        assert run_cli("config", "set", env, "GREETING=hi").returncode == 0
    test_app.write("www/index.html", "work in progress\n")  # not committed
    refused = run_cli("deploy", "testing")
    assert refused.returncode != 0
    assert "uncommitted changes" in refused.stderr and "dockyard build --allow-dirty" in refused.stderr
    assert run_cli("build").returncode != 0  # build alone refuses, naming the same flag
    built = run_cli("build", "--allow-dirty", "--json")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["tag"].split("-")[1] == "dirty"
    first = run_cli("deploy", "testing")
    assert first.returncode == 0, first.stdout + first.stderr
    for args in (("deploy", "staging"), ("promote", "testing", "staging")):
        result = run_cli(*args)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "built from uncommitted changes (-dirty): it may go to testing, the first environment, never to " \
               "staging" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert json.loads(run_cli("ps", "staging", "--json").stdout) == []

"""One vocabulary from the CLI to the JSON (issue 27): each command's `--json` is validated against
its JSON Schema in docs/json/, and no output uses another dialect's name for the same thing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from tests.apps import TestApp
from tests.conftest import run_cli
from tests.integration.bluegreen.helpers import free_port

pytestmark = pytest.mark.integration

SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "json"
# the names the vocabulary replaced: none may appear as a key anywhere
DIALECTS = {"release", "commit", "author", "at", "by", "started_by", "switched"}


def registry() -> Registry:
    resources = [(p.name, Resource.from_contents(json.loads(p.read_text()))) for p in SCHEMAS.glob("*.schema.json")]
    return Registry().with_resources(resources)


def check(schema: str, data: Any) -> None:
    validator = jsonschema.Draft202012Validator(json.loads((SCHEMAS / schema).read_text()), registry=registry())
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
    assert problems == [], problems[:5]
    assert not (keys(data) & DIALECTS), keys(data) & DIALECTS


def keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for v in data.values() for k in keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in keys(v)}
    return set()


def out(*args: str) -> Any:
    result = run_cli(*args, "--json")
    assert result.returncode == 0, f"dockyard {' '.join(args)} --json: {result.stderr}"
    return json.loads(result.stdout)


def test_every_json_output_validates_against_its_schema(test_app: TestApp) -> None:
    live, preview = free_port(), free_port()
    spec = test_app.spec_file.read_text() + (
        f"  bluegreen: {{engine: local, registry: local, strategy: blue-green,\n"
        f"              router: {{live: {live}, preview: {preview}, rollback_window: 5m}}}}\n")
    test_app.write("dockyard.yml", spec)
    test_app.commit("a blue-green environment too")
    for env in ("testing", "staging", "bluegreen"):
        assert run_cli("config", "set", env, "GREETING=one").returncode == 0
    check("build.schema.json", out("build"))
    check("deploy.schema.json", out("deploy", "testing"))
    check("deploy.schema.json", out("deploy", "bluegreen"))
    assert run_cli("config", "set", "bluegreen", "GREETING=two").returncode == 0
    check("deploy.schema.json", out("deploy", "bluegreen"))
    check("deploy.schema.json", out("rollback", "bluegreen"))
    check("ps.schema.json", out("ps"))
    check("releases.schema.json", out("releases", "bluegreen"))
    check("status.schema.json", out("status"))
    check("status-env.schema.json", out("status", "testing"))
    bluegreen = out("status", "bluegreen")
    check("status-bluegreen.schema.json", bluegreen)
    assert bluegreen["live"]["color"] == "blue" and bluegreen["rollback_until"].endswith("Z")
    run = out("pipeline", "run")  # waits at staging's manual gate
    check("pipeline-run.schema.json", run)
    assert run["status"] == "waiting" and run["actor"] and run["steps"][0]["env"] is None
    for listed in out("pipeline", "ls"):
        check("pipeline-run.schema.json", listed)
    check("pipeline-run.schema.json", out("pipeline", "show", str(run["id"])))
    # a schema is not a stamp: the wrong name fails it
    with pytest.raises(AssertionError):
        check("releases.schema.json", [{**out("releases", "testing")[0], "author": "x"}])

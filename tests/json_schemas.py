"""Validate a command's --json against its JSON Schema in docs/json/ (issue 27), and check that no
other dialect's name for the same thing appears. Shared by every test that runs a command with --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "json"
# the names the vocabulary replaced: none may appear as a key anywhere (an autoscale decision's
# `inputs` is the decider's own record, kept to replay it, and is not looked into)
DIALECTS = {"release", "commit", "author", "at", "by", "started_by", "switched", "timestamp"}
OPAQUE = {"inputs"}


def registry() -> Registry:
    resources = [(p.name, Resource.from_contents(json.loads(p.read_text()))) for p in SCHEMAS.glob("*.schema.json")]
    return Registry().with_resources(resources)


def check(schema: str, data: Any) -> Any:
    """Fail with the first problems when `data` does not fit docs/json/<schema>; the data otherwise."""
    validator = jsonschema.Draft202012Validator(json.loads((SCHEMAS / schema).read_text()), registry=registry())
    problems = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]
    assert problems == [], problems[:5]
    assert not (keys(data) & DIALECTS), keys(data) & DIALECTS
    return data


def keys(data: Any) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {k for name, v in data.items() if name not in OPAQUE for k in keys(v)}
    if isinstance(data, list):
        return {k for v in data for k in keys(v)}
    return set()

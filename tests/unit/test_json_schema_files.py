"""Every JSON Schema in docs/json/ is a valid draft 2020-12 schema, and some test validates a command's
real output against it (tests/json_schemas.py `check`): a schema nothing checks could drift unseen."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "json"


def test_each_schema_is_valid_and_checked_by_a_test() -> None:
    checked = {m for p in (ROOT / "tests").rglob("*.py")
               for m in re.findall(r'check\(\s*"([\w-]+\.schema\.json)"', p.read_text())}
    for path in SCHEMAS.glob("*.schema.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))
    shipped = {p.name for p in SCHEMAS.glob("*.schema.json")} - {"vocabulary.schema.json"}
    assert shipped - checked == set()
    assert checked - shipped == set()  # a check of a schema that is not there
    listed = (SCHEMAS / "README.md").read_text()
    assert [name for name in sorted(shipped) if f"({name})" not in listed] == []

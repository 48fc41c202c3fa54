from __future__ import annotations

import pytest

from dockyard.errors import UsageError
from dockyard.spec import STARTER_SPEC, parse_spec, starter_spec


def test_starter_spec_parses() -> None:
    spec = parse_spec(starter_spec("shop-api"))
    assert spec.app == "shop-api"
    assert spec.env_names() == ["testing", "production"]
    assert spec.tests["smoke"].kind == "endpoint"


def test_starter_template_fills_with_format() -> None:
    assert parse_spec(STARTER_SPEC.format(app="demo")).app == "demo"


def test_starter_rejects_a_bad_app_name() -> None:
    with pytest.raises(UsageError):
        starter_spec("Shop API")

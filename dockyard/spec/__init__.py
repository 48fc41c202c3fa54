"""dockyard.yml: the app spec, parsed into typed models; every user mistake is a SpecError with file:line.

The names below load their module (and pydantic, for the models) when first used, so that a
submodule which needs neither (brief.py, what read commands know of a spec) loads alone.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dockyard.spec.fields import parse_duration, parse_size
    from dockyard.spec.hints import closest
    from dockyard.spec.loader import SPEC_FILE, load_spec, parse_spec
    from dockyard.spec.model import (
        AlarmSpec,
        AppSpec,
        BuildSpec,
        ConfigSpec,
        EnvironmentSpec,
        HealthSpec,
        ResourcesSpec,
        RouterSpec,
        ScalingSpec,
        ServiceSpec,
        TestSpec,
    )
    from dockyard.spec.starter import STARTER_SPEC, starter_spec

_WHERE = {
    "parse_duration": "fields", "parse_size": "fields", "closest": "hints",
    "SPEC_FILE": "loader", "load_spec": "loader", "parse_spec": "loader",
    **dict.fromkeys(("AlarmSpec", "AppSpec", "BuildSpec", "ConfigSpec", "EnvironmentSpec", "HealthSpec",
                     "ResourcesSpec", "RouterSpec", "ScalingSpec", "ServiceSpec", "TestSpec"), "model"),
    "STARTER_SPEC": "starter", "starter_spec": "starter",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"dockyard.spec.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "accessory",  # modules other packages import
    "brief",
    "bounds",
    "alerts",
    "model",
    "strategies",
    "tasks",
    "canary",
    "AlarmSpec",
    "closest",
    "SPEC_FILE",
    "STARTER_SPEC",
    "AppSpec",
    "BuildSpec",
    "ConfigSpec",
    "EnvironmentSpec",
    "HealthSpec",
    "ResourcesSpec",
    "RouterSpec",
    "ScalingSpec",
    "ServiceSpec",
    "TestSpec",
    "load_spec",
    "parse_duration",
    "parse_size",
    "parse_spec",
    "starter_spec",
]

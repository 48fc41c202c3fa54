"""dockyard.yml: the app spec, parsed into typed models; every user mistake is a SpecError with file:line."""

from __future__ import annotations

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

__all__ = [
    "accessory",  # modules other packages import
    "bounds",
    "alerts",
    "model",
    "strategies",
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

"""`${accessories.NAME.host|port|address}` in the app's configuration and its services' env,
resolved at deploy time to the accessory's stable address on the environment's network."""

from __future__ import annotations

from dataclasses import replace

from dockyard.config.service import ResolvedConfig
from dockyard.errors import ConfigError, SpecError
from dockyard.spec import AppSpec
from dockyard.spec.accessory import substitute_refs


def addresses(spec: AppSpec, env: str) -> dict[str, dict[str, str]]:
    return {name: accessory.address() for name, accessory in spec.accessories_of(env).items()}


def resolve_config_refs(spec: AppSpec, env: str, resolved: ResolvedConfig) -> ResolvedConfig:
    """The configuration with every reference replaced; a wrong one names its key."""
    known = addresses(spec, env)
    values: dict[str, str] = {}
    for key, value in resolved.values.items():
        try:
            values[key] = substitute_refs(value, known)
        except ValueError as exc:
            fix = f"dockyard config set {env} {key}=VALUE --app {spec.app}, or add the accessory to dockyard.yml"
            raise ConfigError(f"config key {key} of {spec.app}/{env}: {exc}", hint=fix) from exc
    return replace(resolved, values=values)


def resolve_env_refs(spec: AppSpec, env: str, service: str, values: dict[str, str]) -> dict[str, str]:
    """A service's own env from dockyard.yml, resolved; a wrong reference names its file:line."""
    known = addresses(spec, env)
    out: dict[str, str] = {}
    for key, value in values.items():
        try:
            out[key] = substitute_refs(value, known)
        except ValueError as exc:
            where = spec.where("services", service, "env", key)
            raise SpecError([f"{where}: services.{service}.env.{key}: {exc}"]) from exc
    return out

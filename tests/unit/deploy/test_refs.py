"""`${accessories.NAME.FIELD}` in the stored configuration and a service's env, resolved at deploy
(issue 16): a wrong reference names the key, or the file:line, where it is."""

from __future__ import annotations

import pytest

from dockyard.config.service import ResolvedConfig
from dockyard.deploy.refs import resolve_config_refs, resolve_env_refs
from dockyard.errors import ConfigError, SpecError
from dockyard.spec import parse_spec

SPEC = """\
app: shop
services:
  web: {port: 8080}
accessories:
  db: {image: redis:7, port: 6379}
environments:
  dev: {}
  bare: {accessories: []}
"""


def config(**values: str) -> ResolvedConfig:
    return ResolvedConfig("dev", "shop", 3, values, frozenset({"DB_PASSWORD"}), {k: "app" for k in values})


def test_stored_values_are_resolved_for_the_environment() -> None:
    spec = parse_spec(SPEC)
    resolved = resolve_config_refs(spec, "dev", config(DB_HOST="${accessories.db.host}",
                                                       DB_URL="redis://${accessories.db.address}", DB_PASSWORD="pw"))
    assert resolved.values == {"DB_HOST": "db", "DB_URL": "redis://db:6379", "DB_PASSWORD": "pw"}
    assert (resolved.revision, resolved.secret_keys) == (3, frozenset({"DB_PASSWORD"}))


def test_a_reference_the_environment_cannot_meet_names_its_key() -> None:
    spec = parse_spec(SPEC)
    with pytest.raises(ConfigError, match=r"config key DB_HOST of shop/bare: \$\{accessories.db.host\}: no "
                                          r"accessory 'db' runs in this environment \(its accessories: none\)"):
        resolve_config_refs(spec, "bare", config(DB_HOST="${accessories.db.host}"))


def test_a_service_env_reference_names_its_line() -> None:
    spec = parse_spec(SPEC)
    assert resolve_env_refs(spec, "dev", "web", {"A": "${accessories.db.port}"}) == {"A": "6379"}
    with pytest.raises(SpecError) as caught:
        resolve_env_refs(spec, "dev", "web", {"A": "${accessories.db.password}"})
    assert caught.value.problems == ["dockyard.yml:3: services.web.env.A: ${accessories.db.password}: an accessory "
                                     "has host, port, address"]

"""Secrets bound to where they belong, capped values, and masking of every value (issue 12, low findings)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from dockyard.config.secrets import SecretBox
from dockyard.config.service import MAX_VALUE_BYTES, ConfigService
from dockyard.config.sqlite_store import SqliteStore
from dockyard.config.store import StoredValue
from dockyard.errors import ConfigError, SecretKeyError


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[ConfigService]:
    store = SqliteStore(tmp_path / "c.db")
    yield ConfigService(store, SecretBox(key=Fernet.generate_key()))
    store.close()


def test_a_ciphertext_copied_to_another_environment_is_refused(svc: ConfigService) -> None:
    svc.set("production", "shop", {"DB_PASSWORD": "prod-pw"}, "ann", secret=True)
    stolen = svc.store.snapshot("production", "shop")["DB_PASSWORD"]
    assert "prod-pw" not in stolen.value
    svc.store.set_many("staging", "shop", {"DB_PASSWORD": StoredValue(stolen.value, True)}, "mallory")
    with pytest.raises(SecretKeyError, match="encrypted for production/shop/DB_PASSWORD, not staging"):
        svc.resolve("staging", "shop")
    svc.store.set_many("production", "shop", {"OTHER": StoredValue(stolen.value, True)}, "mallory")
    with pytest.raises(SecretKeyError, match="not production/shop/OTHER"):
        svc.resolve("production", "shop")


def test_an_unbound_ciphertext_from_before_still_reads(svc: ConfigService) -> None:
    legacy = svc.box.encrypt("old-pw")  # no context: how secrets were written before
    svc.store.set_many("production", "shop", {"DB_PASSWORD": StoredValue(legacy, True)}, "ann")
    assert svc.resolve("production", "shop").values["DB_PASSWORD"] == "old-pw"


def test_values_are_capped(svc: ConfigService) -> None:
    svc.set("testing", "shop", {"OK": "x" * MAX_VALUE_BYTES}, "ann")
    with pytest.raises(ConfigError, match="capped at 64 KiB"):
        svc.set("testing", "shop", {"BIG": "x" * (MAX_VALUE_BYTES + 1)}, "ann")
    assert "BIG" not in svc.resolve("testing", "shop").values


def test_short_secret_values_are_masked_too(svc: ConfigService) -> None:
    from dockyard.pipeline.runner import RunExecutor, mask
    from dockyard.spec import parse_spec

    svc.set("testing", "shop", {"PIN": "739"}, "ann", secret=True)
    spec = parse_spec("app: shop\nservices: {web: {port: 8080}}\nenvironments: {testing: {}}\n")
    executor = RunExecutor.__new__(RunExecutor)
    executor.config = lambda: svc
    values = executor._secret_values(spec)
    assert values == ["739"]
    assert mask("pin is 739", values) == "pin is ***"

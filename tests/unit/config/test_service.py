from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from dockyard.config.secrets import SecretBox
from dockyard.config.service import ConfigService, missing_required, open_config_service
from dockyard.config.sqlite_store import SqliteStore
from dockyard.errors import ConfigError, MissingConfigError, NotFound, SecretKeyError


@pytest.fixture
def svc(tmp_path: Path) -> Iterator[ConfigService]:
    store = SqliteStore(tmp_path / "c.db")
    yield ConfigService(store)
    store.close()


def test_app_keys_override_shared(svc: ConfigService) -> None:
    svc.set("prod", None, {"DOMAIN": "example.com", "DB_HOST": "db-shared"}, "ann")
    svc.set("prod", "shop", {"DB_HOST": "db-shop"}, "ann")
    svc.set("prod", None, {"DB_PASSWORD": "pw"}, "ann", secret=True)
    resolved = svc.resolve("prod", "shop")
    assert resolved.values == {"DB_HOST": "db-shop", "DB_PASSWORD": "pw", "DOMAIN": "example.com"}
    assert resolved.sources == {"DB_HOST": "app", "DB_PASSWORD": "shared", "DOMAIN": "shared"}
    assert resolved.secret_keys == {"DB_PASSWORD"}
    assert resolved.revision == 3
    assert "pw" not in repr(resolved) and "***" in repr(resolved)
    assert svc.resolve("prod", "other").values == {
        "DB_PASSWORD": "pw",
        "DB_HOST": "db-shared",
        "DOMAIN": "example.com",
    }


def test_deployer_view(svc: ConfigService) -> None:
    svc.set("prod", "shop", {"HOST": "h"}, "ann")
    svc.set("prod", "shop", {"PW": "pw"}, "ann", secret=True)
    resolved = svc.resolve("prod", "shop")
    assert resolved.plain_values() == {"HOST": "h", "PW": "pw"}
    assert resolved.secret_values() == {"PW": "pw"}
    assert svc.missing_required(resolved, ["HOST", "X"]) == ["X"]


def test_open_config_service_uses_the_site_store(tmp_path: Path) -> None:
    svc = open_config_service()
    svc.set("prod", None, {"A": "1"}, "ann")
    svc.close()
    assert (tmp_path / "store" / "config.db").exists()


def test_resolve_at_a_past_revision(svc: ConfigService) -> None:
    old = svc.set("prod", "shop", {"A": "1"}, "ann").revision
    svc.set("prod", "shop", {"A": "2"}, "ann")
    svc.set("prod", None, {"B": "new"}, "ann")
    past = svc.resolve("prod", "shop", revision=old)
    assert past.values == {"A": "1"} and past.revision == old
    assert svc.resolve("prod", "shop").values == {"A": "2", "B": "new"}


def test_missing_required_lists_all(svc: ConfigService) -> None:
    svc.set("prod", "shop", {"DB_HOST": "x"}, "ann")
    resolved = svc.resolve("prod", "shop")
    assert missing_required(resolved, ["DB_HOST", "DB_PASSWORD", "DOMAIN", "DOMAIN"]) == [
        "DB_PASSWORD",
        "DOMAIN",
    ]
    with pytest.raises(MissingConfigError, match="DB_PASSWORD, DOMAIN") as err:
        svc.require("prod", "shop", ["DB_HOST", "DB_PASSWORD", "DOMAIN"])
    assert err.value.missing == ["DB_PASSWORD", "DOMAIN"]


def test_store_holds_only_ciphertext(svc: ConfigService) -> None:
    svc.set("prod", "shop", {"PW": "hunter2"}, "ann", secret=True)
    stored = svc.store.get("prod", "shop", "PW")
    assert stored is not None and stored.secret and "hunter2" not in stored.value
    assert svc.get("prod", "shop", "PW") == ("***", True)
    assert svc.get("prod", "shop", "PW", reveal=True) == ("hunter2", True)
    with pytest.raises(NotFound, match="no key NOPE"):
        svc.get("prod", "shop", "NOPE")


def test_unchanged_values_make_no_revision(svc: ConfigService) -> None:
    first = svc.set("prod", "shop", {"A": "1", "PW": "x"}, "ann")
    again = svc.set("prod", "shop", {"A": "1"}, "ann")
    assert again.revision == first.revision and again.changed == [] and again.unchanged == ["A"]
    svc.set("prod", "shop", {"PW": "x"}, "ann", secret=True)  # same text but now secret: a change
    assert svc.resolve("prod", "shop").secret_keys == {"PW"}


def test_wrong_key_is_secret_key_error(svc: ConfigService) -> None:
    svc.set("prod", "shop", {"PW": "x"}, "ann", secret=True)
    other = ConfigService(svc.store, SecretBox(key=Fernet.generate_key()))
    with pytest.raises(SecretKeyError, match="secret PW of prod/shop cannot be decrypted"):
        other.resolve("prod", "shop")
    # listing without --reveal needs no key at all
    assert other.resolve("prod", "shop", decrypt=False).display() == {"PW": "***"}
    assert other.get("prod", "shop", "PW") == ("***", True)


def test_diff_masks_but_compares_secrets(svc: ConfigService) -> None:
    svc.set("staging", "shop", {"SAME": "1", "HOST": "s-db", "OLD": "x"}, "ann")
    svc.set("prod", "shop", {"SAME": "1", "HOST": "p-db", "NEW": "y"}, "ann")
    svc.set("staging", None, {"PW": "a", "PW_SAME": "z"}, "ann", secret=True)
    svc.set("prod", None, {"PW": "b", "PW_SAME": "z"}, "ann", secret=True)
    entries = svc.diff("staging", "prod", "shop")
    assert [(e.key, e.change, e.a, e.b, e.secret) for e in entries] == [
        ("HOST", "changed", "s-db", "p-db", False),
        ("NEW", "added", None, "y", False),
        ("OLD", "removed", "x", None, False),
        ("PW", "changed", "***", "***", True),
    ]
    assert [(e.a, e.b) for e in svc.diff("staging", "prod", "shop", reveal=True) if e.key == "PW"] == [
        ("a", "b")
    ]


def test_history_masks_secrets(svc: ConfigService) -> None:
    svc.set("prod", "shop", {"PW": "one"}, "ann", secret=True)
    svc.set("prod", "shop", {"PW": "two"}, "bob", secret=True)
    rows = svc.history("prod")
    assert [(r["action"], r["old"], r["new"], r["actor"]) for r in rows] == [
        ("changed", "***", "***", "bob"),
        ("added", None, "***", "ann"),
    ]
    newest = svc.history("prod", reveal=True)[0]
    assert (newest["old"], newest["new"]) == ("one", "two")


def test_import_is_atomic_and_names_lines(svc: ConfigService, tmp_path: Path) -> None:
    bad = tmp_path / "bad.env"
    bad.write_text("A=1\nB=2\noops\n")
    with pytest.raises(ConfigError, match=r"bad.env:3: expected KEY=VALUE"):
        svc.import_file(bad, "prod", "shop", "ann")
    assert svc.store.current_revision() == 0
    good = tmp_path / "good.env"
    good.write_text("A=1\nPW=secret\n")
    done = svc.import_file(good, "prod", "shop", "ann", secret_keys=["PW"])
    assert done.changed == ["A", "PW"] and done.revision == 1
    assert svc.resolve("prod", "shop").secret_keys == {"PW"}
    with pytest.raises(ConfigError, match="--secret NOPE: no such key"):
        svc.import_file(good, "prod", "shop", "ann", secret_keys=["NOPE"])


def test_export_reveal_round_trips(svc: ConfigService, tmp_path: Path) -> None:
    svc.set("staging", "shop", {"A": "8080", "B": "multi\nline", "C": ""}, "ann")
    svc.set("staging", "shop", {"PW": "p: w"}, "ann", secret=True)
    masked = svc.export_yaml("staging", "shop")
    assert "p: w" not in masked and "***" in masked
    path = tmp_path / "masked.yml"
    path.write_text(masked)
    with pytest.raises(ConfigError, match=r"masked.yml:\d+: PW: the secret is masked"):
        svc.import_file(path, "prod", "shop", "ann")
    path = tmp_path / "full.yml"
    path.write_text(svc.export_yaml("staging", "shop", reveal=True))
    svc.import_file(path, "prod", "shop", "ann")
    a, b = svc.resolve("staging", "shop"), svc.resolve("prod", "shop")
    assert (a.values, a.secret_keys) == (b.values, b.secret_keys)
    assert svc.diff("staging", "prod", "shop") == []


def test_revision_diff_shows_what_changed_between_two_releases_with_secrets_masked(svc: ConfigService) -> None:
    first = svc.set("prod", None, {"DOMAIN": "a.example", "GONE": "x"}, "ann").revision
    svc.set("prod", "shop", {"DB_PASSWORD": "old-pw"}, "ann", secret=True)
    svc.set("prod", "other", {"DOMAIN": "not-shop"}, "ann")  # another app's key: not shop's change
    svc.set("prod", "shop", {"DOMAIN": "b.example", "NEW": "1"}, "ann")
    svc.delete("prod", None, ["GONE"], "ann")
    svc.set("prod", "shop", {"DB_PASSWORD": "new-pw"}, "ann", secret=True)
    last = svc.store.current_revision()
    entries = svc.revision_diff("prod", "shop", first, last)
    assert [(e.key, e.change, e.a, e.b, e.secret) for e in entries] == [
        ("DB_PASSWORD", "added", None, "***", True),
        ("DOMAIN", "changed", "a.example", "b.example", False),
        ("GONE", "removed", "x", None, False),
        ("NEW", "added", None, "1", False),
    ]
    changed_secret = svc.revision_diff("prod", "shop", last - 1, last)
    assert [(e.key, e.change, e.a, e.b) for e in changed_secret] == [("DB_PASSWORD", "changed", "***", "***")]
    assert svc.revision_diff("prod", "shop", last, last) == []
    assert "pw" not in repr(entries)

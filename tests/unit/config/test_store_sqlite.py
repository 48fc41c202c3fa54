from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dockyard.config.sqlite_store import SqliteStore
from dockyard.config.store import StoredValue
from dockyard.errors import StoreUnavailable
from tests.unit.config.store_contract import Opener, StoreContract


class TestSqliteStoreContract(StoreContract):
    @pytest.fixture
    def open_handle(self, tmp_path: Path) -> Opener:
        return lambda: SqliteStore(tmp_path / "db" / "config.db")


def test_wal_mode_and_one_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    store.set_many("staging", None, {"A": StoredValue("1")}, "ann")
    store.close()
    mode = sqlite3.connect(tmp_path / "c.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_survives_reopen(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "c.db")
    store.set_many("staging", None, {"A": StoredValue("1")}, "ann")
    store.close()
    again = SqliteStore(tmp_path / "c.db")
    assert again.get("staging", None, "A") == StoredValue("1")
    assert again.current_revision() == 1
    again.close()


def test_not_a_database_is_store_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreUnavailable, match=f"{path}.*not a database"):
        SqliteStore(path)


def test_unwritable_place_is_store_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreUnavailable, match="cannot be used"):
        SqliteStore(blocker / "sub" / "c.db")  # parent is a file

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.config.etcd_store import EtcdStore
from dockyard.config.sqlite_store import SqliteStore
from dockyard.config.stores import open_default_store, open_store
from dockyard.errors import DockyardError


def test_sqlite_url(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/x/c.db")
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "x" / "c.db"
    store.close()


def test_etcd_url_does_not_connect_yet() -> None:
    store = open_store("etcd://10.0.0.7:2380/site-a")
    assert isinstance(store, EtcdStore)
    assert (store.host, store.port, store.prefix) == ("10.0.0.7", 2380, "/site-a/")
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://rel.db",
        "sqlite:relative.db",
        "etcd://",
        "etcd://h:notaport",
        "redis://h:1",
        "",
        "/abs/path.db",
    ],
)
def test_bad_urls_name_the_allowed_forms(url: str) -> None:
    with pytest.raises(DockyardError, match=r"sqlite:///ABSOLUTE/PATH.db or etcd://HOST:PORT"):
        open_store(url)


def test_default_store_follows_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOCKYARD_CONFIG_STORE")
    store = open_default_store()
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "home" / "config.db"
    store.close()

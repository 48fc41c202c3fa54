"""The store contract against a real etcd (DOCKYARD_TEST_ETCD=host:port, default 127.0.0.1:2379)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from dockyard.config.etcd_store import EtcdStore
from dockyard.config.store import StoredValue
from dockyard.config.stores import open_store
from dockyard.errors import StoreUnavailable
from tests.unit.config.store_contract import Opener, StoreContract

pytestmark = pytest.mark.integration


def _address() -> tuple[str, int]:
    raw = os.environ.get("DOCKYARD_TEST_ETCD", "127.0.0.1:2379").removeprefix("http://").rstrip("/")
    host, _, port = raw.rpartition(":")
    return host, int(port)


@pytest.fixture
def etcd_prefix() -> Iterator[str]:
    """A unique prefix per test, deleted afterwards; etcd down fails in CI, skips elsewhere."""
    host, port = _address()
    prefix = f"/dockyard-test-{uuid.uuid4().hex}/"
    probe = EtcdStore(host, port, prefix=prefix)
    try:
        probe.current_revision()
    except StoreUnavailable as exc:
        probe.close()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"etcd is required in CI: {exc}")
        pytest.skip(f"no etcd: {exc}")
    yield prefix
    probe._client.delete_prefix(prefix)
    probe.close()


class TestEtcdStoreContract(StoreContract):
    @pytest.fixture
    def open_handle(self, etcd_prefix: str) -> Opener:
        host, port = _address()
        return lambda: EtcdStore(host, port, prefix=etcd_prefix)


def test_keys_live_under_the_prefix(etcd_prefix: str) -> None:
    host, port = _address()
    store = EtcdStore(host, port, prefix=etcd_prefix)
    store.set_many("staging", "web", {"A": StoredValue("1")}, "ann")
    keys = sorted(meta["key"].decode() for _, meta in store._client.get_prefix(etcd_prefix))
    assert keys and all(k.startswith(etcd_prefix) for k in keys)
    store.close()


def test_many_keys_in_one_transaction(etcd_prefix: str) -> None:
    # etcd caps a transaction at 128 operations; a change must not grow with the key count
    host, port = _address()
    store = EtcdStore(host, port, prefix=etcd_prefix)
    rev = store.set_many("staging", "web", {f"K{i}": StoredValue(str(i)) for i in range(500)}, "ann")
    assert len(store.snapshot("staging", "web", rev)) == 500
    store.close()


def test_open_store_url() -> None:
    host, port = _address()
    store = open_store(f"etcd://{host}:{port}")
    assert isinstance(store, EtcdStore) and store.prefix == "/dockyard/"
    store.close()


def test_unreachable_etcd_is_store_unavailable() -> None:
    store = EtcdStore("127.0.0.1", 1, prefix="/x/")  # nothing listens on port 1
    with pytest.raises(StoreUnavailable, match=r"etcd at 127.0.0.1:1 is not reachable: .*refused") as err:
        store.set_many("staging", None, {"A": StoredValue("1")}, "ann")
    assert err.value.hint
    store.close()


def test_service_over_etcd_resolves_a_past_release(etcd_prefix: str) -> None:
    from dockyard.config.service import ConfigService

    host, port = _address()
    store = open_store(f"etcd://{host}:{port}{etcd_prefix.rstrip('/')}")
    svc = ConfigService(store)
    svc.set("prod", None, {"DOMAIN": "example.com"}, "ann")
    release = svc.set("prod", "shop", {"DB_PASSWORD": "pw1"}, "ann", secret=True).revision
    svc.set("prod", "shop", {"DB_PASSWORD": "pw2"}, "ann", secret=True)
    assert "pw1" not in str(store.snapshot("prod", "shop", release))  # only ciphertext in etcd
    rollback = svc.resolve("prod", "shop", revision=release)
    assert rollback.values == {"DB_PASSWORD": "pw1", "DOMAIN": "example.com"}
    assert svc.resolve("prod", "shop").values["DB_PASSWORD"] == "pw2"
    store.close()

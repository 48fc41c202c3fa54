"""The one contract every ConfigStore passes. Subclass it with an `open_handle` fixture
(a callable returning a new handle on the same, initially empty, backing store)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from dockyard.config.store import ConfigStore, StoredValue
from dockyard.errors import ConfigError, NotFound

S = StoredValue
Opener = Callable[[], ConfigStore]


class StoreContract:
    @pytest.fixture
    def store(self, open_handle: Opener) -> Iterator[ConfigStore]:
        store = open_handle()
        yield store
        store.close()

    def test_is_a_config_store(self, store: ConfigStore) -> None:
        assert isinstance(store, ConfigStore)

    def test_empty_store(self, store: ConfigStore) -> None:
        assert store.current_revision() == 0
        assert store.environments() == []
        assert store.apps("staging") == []
        assert store.snapshot("staging", None) == {}
        assert store.snapshot("staging", "web", 0) == {}
        assert store.get("staging", None, "A") is None
        assert store.history("staging") == []

    def test_set_many_is_one_revision_for_all_keys(self, store: ConfigStore) -> None:
        rev = store.set_many("staging", "web", {"A": S("1"), "B": S("ciphertext", secret=True)}, "ann")
        assert rev == 1 == store.current_revision()
        assert store.get("staging", "web", "A") == S("1")
        assert store.get("staging", "web", "B") == S("ciphertext", True)
        changes = store.history("staging")
        assert [(c.revision, c.key, c.action, c.author) for c in changes] == [
            (1, "A", "added", "ann"),
            (1, "B", "added", "ann"),
        ]
        assert changes[1].secret and not changes[0].secret
        assert changes[0].timestamp > 1_600_000_000

    def test_revisions_are_store_wide_and_increasing(self, store: ConfigStore) -> None:
        revs = [
            store.set_many("staging", None, {"A": S("1")}, "ann"),
            store.set_many("production", "web", {"A": S("2")}, "bob"),
            store.set_many("staging", "api", {"B": S("3")}, "ann"),
            store.delete_many("staging", None, ["A"], "ann"),
        ]
        assert revs == [1, 2, 3, 4]
        assert store.current_revision() == 4

    def test_scopes_are_separate(self, store: ConfigStore) -> None:
        store.set_many("staging", None, {"A": S("shared")}, "ann")
        store.set_many("staging", "web", {"A": S("web")}, "ann")
        store.set_many("production", None, {"A": S("prod")}, "ann")
        assert store.snapshot("staging", None) == {"A": S("shared")}
        assert store.snapshot("staging", "web") == {"A": S("web")}
        assert store.snapshot("staging", "api") == {}
        assert store.snapshot("production", None) == {"A": S("prod")}
        assert store.environments() == ["production", "staging"]
        assert store.apps("staging") == ["web"]

    def test_overwrite_records_old_and_new(self, store: ConfigStore) -> None:
        store.set_many("staging", None, {"A": S("1")}, "ann")
        store.set_many("staging", None, {"A": S("2")}, "bob")
        newest = store.history("staging")[0]
        assert (newest.revision, newest.action, newest.old, newest.new, newest.author) == (
            2,
            "changed",
            S("1"),
            S("2"),
            "bob",
        )

    def test_delete_many(self, store: ConfigStore) -> None:
        store.set_many("staging", "web", {"A": S("1"), "B": S("2"), "C": S("3")}, "ann")
        rev = store.delete_many("staging", "web", ["A", "C"], "bob")
        assert store.snapshot("staging", "web") == {"B": S("2")}
        deleted = [c for c in store.history("staging") if c.revision == rev]
        assert [(c.key, c.action, c.old, c.new) for c in deleted] == [
            ("A", "deleted", S("1"), None),
            ("C", "deleted", S("3"), None),
        ]

    def test_delete_missing_key_deletes_nothing(self, store: ConfigStore) -> None:
        store.set_many("staging", "web", {"A": S("1"), "B": S("2")}, "ann")
        with pytest.raises(NotFound, match="NOPE") as err:
            store.delete_many("staging", "web", ["A", "NOPE"], "ann")
        assert "A," not in err.value.message  # names only the missing key
        assert store.snapshot("staging", "web") == {"A": S("1"), "B": S("2")}
        assert store.current_revision() == 1

    def test_snapshot_at_past_revisions(self, store: ConfigStore) -> None:
        r1 = store.set_many("staging", "web", {"A": S("1"), "B": S("b")}, "ann")
        r2 = store.set_many("staging", "web", {"A": S("2")}, "ann")
        store.set_many("staging", "api", {"X": S("x")}, "ann")  # other scopes move the revision
        r4 = store.delete_many("staging", "web", ["B"], "ann")
        assert store.snapshot("staging", "web", r1) == {"A": S("1"), "B": S("b")}
        assert store.snapshot("staging", "web", r2) == {"A": S("2"), "B": S("b")}
        assert store.snapshot("staging", "web", r2 + 1) == {"A": S("2"), "B": S("b")}
        assert store.snapshot("staging", "web", r4) == {"A": S("2")}
        assert store.snapshot("staging", "web", 0) == {}
        with pytest.raises(NotFound, match="revision 99"):
            store.snapshot("staging", "web", 99)

    def test_history_filters(self, store: ConfigStore) -> None:
        store.set_many("staging", None, {"A": S("1"), "B": S("1")}, "ann")
        store.set_many("staging", "web", {"A": S("2")}, "ann")
        store.set_many("staging", "api", {"A": S("3")}, "ann")
        store.set_many("production", None, {"A": S("4")}, "ann")
        assert [c.revision for c in store.history("staging")] == [3, 2, 1, 1]
        assert [(c.revision, c.app) for c in store.history("staging", [None, "web"], "A")] == [
            (2, "web"),
            (1, None),
        ]
        assert [c.key for c in store.history("staging", [None])] == ["A", "B"]
        assert store.history("staging", ["nope"]) == []

    def test_values_are_kept_exactly(self, store: ConfigStore) -> None:
        odd = {"A": S("x=y; 'q' \"d\"\nline2\t€ ✓"), "B": S(""), "C": S("z" * 100_000), "d.e-f": S(" pad ")}
        store.set_many("staging", "web", odd, "ann")
        assert store.snapshot("staging", "web") == odd

    def test_invalid_input_is_a_config_error(self, store: ConfigStore) -> None:
        with pytest.raises(ConfigError, match="environment"):
            store.set_many("bad/env", None, {"A": S("1")}, "ann")
        with pytest.raises(ConfigError, match="app"):
            store.set_many("staging", "_shared", {"A": S("1")}, "ann")
        with pytest.raises(ConfigError, match="key"):
            store.set_many("staging", None, {"1BAD": S("1")}, "ann")
        with pytest.raises(ConfigError, match="nothing to set"):
            store.set_many("staging", None, {}, "ann")
        assert store.current_revision() == 0

    def test_handles_see_each_other(self, open_handle: Opener, store: ConfigStore) -> None:
        other = open_handle()
        try:
            other.set_many("staging", None, {"A": S("1")}, "ann")
            assert store.get("staging", None, "A") == S("1")
            assert store.current_revision() == 1
        finally:
            other.close()

    def test_concurrent_writers_get_distinct_revisions(self, open_handle: Opener, store: ConfigStore) -> None:
        def writer(n: int) -> None:
            handle = open_handle()
            try:
                for i in range(5):
                    handle.set_many("staging", "web", {f"K{n}_{i}": S(str(i))}, f"w{n}")
            finally:
                handle.close()

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert store.current_revision() == 20
        assert len(store.snapshot("staging", "web")) == 20  # no write lost another's keys
        assert sorted(c.revision for c in store.history("staging")) == list(range(1, 21))

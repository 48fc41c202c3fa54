"""The previews table (issue 33): a claim and the cap are one, an update of a held preview is never
refused, closed and refused previews hold no place, and ready ones expire after their ttl."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dockyard.pipeline.preview_store import PreviewRow, PreviewStore
from dockyard.state.db import StateDB

A = "a" * 40
B = "b" * 40


@pytest.fixture
def store(tmp_path: Path) -> PreviewStore:
    return PreviewStore(StateDB(tmp_path / "state.db"))


def claim(store: PreviewStore, number: int, commit: str = A, app: str = "shop", cap: int = 2, ttl_s: float = 3600.0,
          now: float = 1000.0, trusted: bool = True) -> PreviewRow | None:
    return store.claim(app, number, commit, trusted, "github", "acme/shop", "", cap=cap, ttl_s=ttl_s, now=now)


def test_a_claim_makes_a_building_row(store: PreviewStore) -> None:
    assert claim(store, 7, trusted=False) == PreviewRow(
        app="shop", number=7, state="building", commit=A, trusted=False, provider="github", repo="acme/shop",
        project_id="", url="", run_id=None, seeded=False, ttl_s=3600.0, message="", created_at=1000.0,
        updated_at=1000.0)
    assert store.get("shop", 7) == claim(store, 7, trusted=False)
    assert store.get("shop", 8) is None


def test_the_cap_refuses_a_third_preview(store: PreviewStore) -> None:
    assert claim(store, 1, now=1000.0) is not None
    assert claim(store, 2, now=1001.0) is not None
    assert claim(store, 3, now=1002.0) is None
    assert store.get("shop", 3) is None  # refused() records it, not claim()
    assert [r.number for r in store.holding("shop")] == [1, 2]
    assert claim(store, 3, app="other", now=1002.0) is not None  # the cap is per app


def test_an_update_of_a_held_preview_is_never_refused(store: PreviewStore) -> None:
    claim(store, 1, now=1000.0)
    claim(store, 2, now=1001.0)
    store.set_state("shop", 1, "ready", url="https://pr-1.preview.test")
    store.mark_seeded("shop", 1)
    store.set_run("shop", 1, 41)
    row = claim(store, 1, commit=B, now=2000.0, cap=1)  # even over a lowered cap
    assert row is not None
    assert (row.state, row.commit, row.created_at, row.updated_at, row.seeded, row.url, row.run_id) == \
        ("building", B, 1000.0, 2000.0, True, "https://pr-1.preview.test", 41)
    store.set_state("shop", 2, "failed", "deploy failed")
    assert claim(store, 2, commit=B, now=2001.0) is not None
    store.set_state("shop", 2, "closing", "pull request closed")
    assert claim(store, 2, commit=B, now=2002.0) is not None


def test_closed_and_refused_previews_hold_no_place(store: PreviewStore) -> None:
    claim(store, 1, now=1000.0)
    claim(store, 2, now=1001.0)
    assert claim(store, 3, now=1002.0) is None
    refused = store.refused("shop", 3, A, True, "github", "acme/shop", "", "shop has 2 previews already")
    assert (refused.state, refused.message, refused.commit, refused.env) == \
        ("refused", "shop has 2 previews already", A, "pr-3")
    assert [r.number for r in store.holding("shop")] == [1, 2]
    store.set_state("shop", 2, "closed", "github pull request closed")
    row = claim(store, 3, now=3000.0)
    assert row is not None
    assert (row.state, row.message, row.created_at) == ("building", "", 3000.0)  # made anew
    assert [(r.number, r.state) for r in store.rows("shop")] == [(1, "building"), (2, "closed"), (3, "building")]
    assert claim(store, 2, now=3001.0) is None  # the place it held is taken
    store.set_state("shop", 1, "closed")
    reopened = claim(store, 2, commit=B, now=3002.0)
    assert reopened is not None and (reopened.created_at, reopened.seeded) == (3002.0, False)


def test_a_refused_row_says_why(store: PreviewStore) -> None:
    row = store.refused("shop", 9, A, False, "gitlab", "team/shop", "15", "shop has 10 previews already")
    assert (row.app, row.number, row.state, row.commit, row.trusted, row.provider, row.repo, row.project_id,
            row.message, row.run_id) == ("shop", 9, "refused", A, False, "gitlab", "team/shop", "15",
                                         "shop has 10 previews already", None)
    again = store.refused("shop", 9, B, False, "gitlab", "team/shop", "15", "still full")
    assert (again.state, again.commit, again.message) == ("refused", B, "still full")
    assert store.holding("shop") == []


def test_previews_expire_after_their_ttl(store: PreviewStore) -> None:
    claim(store, 1, ttl_s=600.0)
    claim(store, 2, ttl_s=60.0)
    claim(store, 3, app="other", ttl_s=60.0, cap=5)
    assert store.expired(now=10**10) == []  # building: a run holds it
    store.set_state("shop", 1, "ready")
    store.set_state("shop", 2, "failed", "tests failed")
    store.set_state("other", 3, "closed")
    one, two = store.get("shop", 1), store.get("shop", 2)
    assert one is not None and two is not None
    assert store.expired(now=two.updated_at + 59.0) == []
    assert store.expired(now=two.updated_at + 60.0) == [two]
    assert store.expired(now=one.updated_at + 600.0) == [one, two]
    store.set_state("shop", 1, "closing")
    assert store.expired(now=one.updated_at + 10**6) == [two]


def test_a_row_in_json(store: PreviewStore) -> None:
    claim(store, 7, trusted=False)
    store.set_run("shop", 7, 12)
    row = store.get("shop", 7)
    assert row is not None and store.of_run(12) == row and store.of_run(13) is None
    assert row.as_json() == {
        "app": "shop", "number": 7, "env": "pr-7", "state": "building", "commit_sha": A, "trusted": False,
        "provider": "github", "url": None, "run": 12, "message": None, "created_at": "1970-01-01T00:16:40Z",
        "updated_at": "1970-01-01T00:16:40Z"}
    store.set_state("shop", 7, "ready", url="https://pr-7.preview.test")
    ready = store.get("shop", 7)
    assert ready is not None
    assert (ready.as_json()["url"], ready.as_json()["state"]) == ("https://pr-7.preview.test", "ready")


def test_the_cap_holds_across_connections(tmp_path: Path) -> None:
    """Two server processes: each claim counts what the other one committed."""
    first, second = PreviewStore(StateDB(tmp_path / "state.db")), PreviewStore(StateDB(tmp_path / "state.db"))
    assert claim(first, 1, cap=1) is not None
    assert claim(second, 2, cap=1) is None
    assert claim(second, 1, commit=B, cap=1) is not None
    assert first.get("shop", 1) == second.get("shop", 1)


def test_a_preview_whose_run_was_cancelled_by_hand_is_failed_then_expires(tmp_path: Path) -> None:
    from dockyard.pipeline.model import StepDef
    from dockyard.pipeline.previews import expire, settle_orphans
    from dockyard.pipeline.store import RunStore

    db = StateDB(tmp_path / "state.db")
    runs, previews = RunStore(db), PreviewStore(db)
    runs.register_app("shop", str(tmp_path / "repo"), "dockyard.yml")
    for number in (1, 2):
        claim(previews, number, now=1000.0)
        run_id = runs.create_run("shop", A, f"pull/{number}", "github", [StepDef("build", "", "build image")],
                                 supersede=True)
        previews.set_run("shop", number, run_id)
    runs.cancel(int(previews.get("shop", 1).run_id or 0), "someone")  # type: ignore[union-attr]
    assert settle_orphans(db) == []  # it just ended: its runner may still be saying so
    # a minute on, it is failed; the run of pr-2 is still queued
    assert [r.number for r in settle_orphans(db, now=time.time() + 61)] == [1]
    assert [(r.number, r.state, r.message) for r in previews.rows()] == [
        (1, "failed", f"its run {previews.get('shop', 1).run_id} ended cancelled"),  # type: ignore[union-attr]
        (2, "building", "")]
    taken = expire(db, now=10**10)  # long past its ttl: its take-down is queued; pr-2 still builds
    assert [(t["preview"], "run" in t) for t in taken] == [("pr-1", True)]
    assert previews.get("shop", 1).state == "closing"  # type: ignore[union-attr]


def test_the_time_of_the_last_event_applied_only_rises(store: PreviewStore) -> None:
    claim(store, 7)
    assert store.get("shop", 7).event_at == 0.0  # type: ignore[union-attr]
    store.saw_event("shop", 7, 1000.0)
    store.saw_event("shop", 7, 900.0)  # an older event applied later (by hand, a race): the newest stays
    store.saw_event("shop", 7, None)  # by hand: no time
    assert store.get("shop", 7).event_at == 1000.0  # type: ignore[union-attr]
    claim(store, 7, commit="b" * 40)  # an update keeps it
    assert store.get("shop", 7).event_at == 1000.0  # type: ignore[union-attr]

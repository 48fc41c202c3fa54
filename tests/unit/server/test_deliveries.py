"""Webhook replays (issue 28, finding 4): a push is accepted once per (app, branch, commit), whatever
its delivery id, and what is kept is pruned after the retention window."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.server.store import DAY, Deliveries
from dockyard.state.db import StateDB

A, B = "a" * 40, "b" * 40


@pytest.fixture
def deliveries(tmp_path: Path) -> Deliveries:
    return Deliveries(StateDB(tmp_path / "state.db"))


def test_a_delivery_id_counts_once_until_it_is_forgotten(deliveries: Deliveries) -> None:
    assert deliveries.receive("github", "d1")
    assert not deliveries.receive("github", "d1")
    assert deliveries.receive("gitea", "d1")  # ids are the provider's own
    deliveries.forget("github", "d1")
    assert deliveries.receive("github", "d1")


def test_the_same_push_under_a_new_delivery_id_is_a_duplicate(deliveries: Deliveries) -> None:
    first = deliveries.claim_push("shop", "main", A, "github", "d1")
    assert first is not None
    assert deliveries.claim_push("shop", "main", A, "github", "d2") is None
    assert deliveries.claim_push("shop", "main", A, "gitea", "d3") is None  # whichever provider sends it
    assert deliveries.claim_push("shop", "feature/x", A, "github", "d4") is not None  # another branch
    assert deliveries.claim_push("blog", "main", A, "github", "d5") is not None  # another app
    assert deliveries.last_push("shop", "main") == (A, "d1")


def test_a_branch_that_comes_back_to_a_commit_is_a_new_push(deliveries: Deliveries) -> None:
    assert deliveries.claim_push("shop", "main", A, "github", "d1") is not None
    assert deliveries.claim_push("shop", "main", B, "github", "d2") is not None
    assert deliveries.claim_push("shop", "main", A, "github", "d3") is not None  # a revert to A
    assert deliveries.claim_push("shop", "main", A, "github", "d4") is None


def test_an_unclaimed_push_can_be_accepted_again(deliveries: Deliveries) -> None:
    claim = deliveries.claim_push("shop", "main", A, "github", "d1")
    assert claim is not None
    deliveries.unclaim(claim)  # its run could not be queued
    assert deliveries.claim_push("shop", "main", A, "github", "d2") is not None


def test_old_rows_are_pruned_but_each_branchs_last_push_is_kept(deliveries: Deliveries) -> None:
    now = 100 * DAY
    deliveries.receive("github", "old", now=now - 31 * DAY)
    deliveries.receive("github", "new", now=now - 1 * DAY)
    deliveries.claim_push("shop", "main", A, "github", "old", now=now - 40 * DAY)
    deliveries.claim_push("shop", "main", B, "github", "old", now=now - 35 * DAY)
    deliveries.claim_push("shop", "dev", A, "github", "new", now=now - 1 * DAY)
    assert deliveries.prune(30, now=now) == 2  # the old delivery id, and main's push of A
    assert deliveries.receive("github", "old", now=now)  # forgotten
    assert not deliveries.receive("github", "new", now=now)
    assert deliveries.last_push("shop", "main") == (B, "old")  # older than the window, still the last
    assert deliveries.claim_push("shop", "main", B, "github", "again", now=now) is None

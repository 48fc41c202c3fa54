"""The worker pool: one run at a time per app, several apps at once, the longest-waiting app first,
and an app another worker holds is left to it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.pipeline.model import StepDef
from dockyard.pipeline.store import RunStore
from dockyard.pipeline.worker import Pool, app_lock, try_app_lock
from dockyard.state.db import StateDB

STEPS = [StepDef("build", "", "build image")]


class FakeWorker:
    """Takes the app's next run like a worker does, then holds it until the test lets that app go."""

    release: dict[str, threading.Event] = {}
    started: list[tuple[str, int]] = []

    def __init__(self, app: str) -> None:
        self.app = app
        self.db = StateDB()
        self.store = RunStore(self.db)

    def recover(self) -> None:
        self.store.recover(stale_after=0, app=self.app)

    def run_once(self) -> bool:
        run = self.store.claim_next("fake", self.app)
        if run is None:
            return False
        self.started.append((self.app, run.id))
        self.release.setdefault(self.app, threading.Event()).wait(10)
        self.store.finish_run(run.id, "succeeded")
        return True

    def close(self) -> None:
        self.db.close()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunStore]:
    monkeypatch.setenv("DOCKYARD_HOME", str(tmp_path / "home"))
    FakeWorker.release, FakeWorker.started = {}, []
    db = StateDB()
    yield RunStore(db)
    for event in FakeWorker.release.values():
        event.set()
    db.close()


def wait_for(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def queue(store: RunStore, app: str, branch: str = "main") -> int:
    return store.create_run(app, "a" * 40, branch, "hook", STEPS, supersede=False)


def test_a_long_run_of_one_app_holds_up_no_other_app(store: RunStore) -> None:
    slow, fast = queue(store, "slow"), queue(store, "fast")
    pool = Pool(size=4, worker=FakeWorker)
    assert pool.dispatch() == 2
    wait_for(lambda: len(FakeWorker.started) == 2)
    fast_again = queue(store, "fast")  # the same app's next run waits for its first
    assert pool.dispatch() == 2 and store.run(fast_again).status == "queued"
    FakeWorker.release.setdefault("fast", threading.Event()).set()
    wait_for(lambda: store.run(fast).status == "succeeded")
    wait_for(lambda: pool.dispatch() >= 1 and ("fast", fast_again) in FakeWorker.started)
    wait_for(lambda: store.run(fast_again).status == "succeeded")
    assert store.run(slow).status == "running"  # all the while
    assert [app for app, _run in FakeWorker.started].count("fast") == 2
    FakeWorker.release.setdefault("slow", threading.Event()).set()
    pool.run_forever(stop=_set_event())  # returns once its threads end
    assert store.run(slow).status == "succeeded"
    pool.close()


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


def test_past_its_size_the_app_that_waited_longest_goes_first(store: RunStore) -> None:
    a, b, c = queue(store, "a"), queue(store, "b"), queue(store, "c")
    a2 = queue(store, "a")
    pool = Pool(size=2, worker=FakeWorker)
    assert pool.dispatch() == 2
    wait_for(lambda: len(FakeWorker.started) == 2)
    assert sorted(FakeWorker.started) == [("a", a), ("b", b)]
    FakeWorker.release.setdefault("a", threading.Event()).set()
    wait_for(lambda: store.run(a).status == "succeeded")
    # a's next run is queued too, but c's has waited longer: c takes the free place
    wait_for(lambda: pool.dispatch() == 2 and ("c", c) in FakeWorker.started)
    assert store.run(a2).status == "queued"
    for app in ("b", "c"):
        FakeWorker.release.setdefault(app, threading.Event()).set()
    pool.run_until_idle()
    assert {store.run(r).status for r in (a, b, c, a2)} == {"succeeded"}
    pool.close()


def test_an_app_another_worker_holds_is_left_to_it(store: RunStore) -> None:
    held, free = queue(store, "held"), queue(store, "free")
    FakeWorker.release.setdefault("free", threading.Event()).set()
    with app_lock("held", wait=False) as got:  # another process's worker, in effect (an flock per open)
        assert got and try_app_lock("held") is None
        pool = Pool(worker=FakeWorker)
        pool.run_until_idle()
        assert store.run(free).status == "succeeded" and store.run(held).status == "queued"
    FakeWorker.release.setdefault("held", threading.Event()).set()
    pool.run_until_idle()  # let go: taken now
    assert store.run(held).status == "succeeded"
    pool.close()


def test_a_run_left_running_by_a_dead_worker_is_taken_up_again(store: RunStore) -> None:
    run_id = queue(store, "shop")
    assert store.claim_next("dead-worker", "shop") is not None  # its process died: nobody holds the lock
    FakeWorker.release.setdefault("shop", threading.Event()).set()
    pool = Pool(worker=FakeWorker)
    pool.run_until_idle()
    assert store.run(run_id).status == "succeeded" and FakeWorker.started == [("shop", run_id)]
    pool.close()

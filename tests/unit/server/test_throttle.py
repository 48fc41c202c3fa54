"""Failed log-ins (issue 28): limited per source, 429 with the seconds left, and one summary per
source and window for the audit log."""

from __future__ import annotations

from dockyard.server.throttle import LoginThrottle, Summary


def test_past_the_limit_a_source_waits_for_its_window_to_end() -> None:
    throttle = LoginThrottle(limit=5, window_s=60)
    for second in range(5):
        assert throttle.retry_after("10.0.0.9", 1000 + second) is None
        throttle.failed("10.0.0.9", 1000 + second)
    assert throttle.retry_after("10.0.0.9", 1010) == 50
    assert throttle.retry_after("10.0.0.9", 1059.5) == 1
    assert throttle.retry_after("10.0.0.7", 1010) is None  # another source is not held back
    assert throttle.retry_after("10.0.0.9", 1060) is None  # the window ended


def test_each_window_is_one_summary_with_its_counts() -> None:
    throttle = LoginThrottle(limit=5, window_s=60)
    for n in range(300):
        if throttle.retry_after("10.0.0.9", 1000 + n / 10) is None:
            throttle.failed("10.0.0.9", 1000 + n / 10)
    throttle.failed("10.0.0.7", 1001)
    assert throttle.ended(1059) == []  # still open
    assert throttle.ended(1061) == [Summary("10.0.0.9", 1000, 1060, 5, 295), Summary("10.0.0.7", 1001, 1061, 1, 0)]
    assert throttle.ended(1062) == []  # each once
    assert Summary("x", 0, 60, 5, 295).outcome() == "refused: 5 failed log-ins, then 295 answered 429 (too many)"
    assert Summary("x", 0, 60, 1, 0).outcome() == "refused: 1 failed log-in"


def test_a_failure_after_the_window_starts_a_new_one_and_the_old_one_is_still_reported() -> None:
    throttle = LoginThrottle(limit=5, window_s=60)
    throttle.failed("10.0.0.9", 1000)
    throttle.failed("10.0.0.9", 1070)  # nobody asked for the ended windows in between
    assert throttle.ended(1071) == [Summary("10.0.0.9", 1000, 1060, 1, 0)]
    assert throttle.drain() == [Summary("10.0.0.9", 1070, 1130, 1, 0)]  # the server stops: the open one too
    assert throttle.drain() == []

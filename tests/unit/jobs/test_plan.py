"""When a job's run is due (jobs/plan.py, pure)."""

from __future__ import annotations

from dockyard.jobs.plan import GRACE, due, next_at

MINUTE = 1_800_000_000.0  # on a minute (and a quarter hour)


def test_nothing_is_due_before_the_next_moment() -> None:
    assert due("* * * * *", MINUTE, MINUTE + 59.9, False) is None
    assert next_at("*/15 * * * *", MINUTE) == MINUTE + 900


def test_a_moment_on_time_runs_once() -> None:
    moment = due("* * * * *", MINUTE, MINUTE + 61, False)
    assert moment is not None and (moment.at, moment.moments, moment.missed, moment.run) == \
        (MINUTE + 60, 1, False, True)
    assert moment.describe().startswith("due at ")


def test_moments_missed_while_the_server_was_down_give_one_run() -> None:
    moment = due("* * * * *", MINUTE, MINUTE + 185, False)  # down for three minutes
    assert moment is not None and (moment.at, moment.moments, moment.run) == (MINUTE + 180, 3, True)
    assert moment.describe().startswith("3 runs were due") and moment.describe().endswith("one catch-up run")


def test_skip_missed_skips_a_moment_past_its_grace_and_runs_one_on_time() -> None:
    late = due("0 * * * *", MINUTE - 3600, MINUTE + GRACE + 1, True)
    assert late is not None and late.missed and not late.run and "skipped (skip_missed)" in late.describe()
    on_time = due("* * * * *", MINUTE - 600, MINUTE + 5, True)  # earlier ones missed, the latest is on time
    assert on_time is not None and on_time.run and on_time.moments == 10
    caught_up = due("0 * * * *", MINUTE - 3600, MINUTE + GRACE + 1, False)
    assert caught_up is not None and caught_up.run and "one catch-up run" in caught_up.describe()

"""lines.Lines: a read's columns, still a sequence of records for whoever wants them one by one."""

from __future__ import annotations

from dockyard.logs.lines import Lines, as_lines

RECORDS = [(10, 1_000, 0, "a"), (25, 2_000, 1, "b"), (40, 3_000, 0, "c")]


def test_columns_and_records_are_the_same_lines() -> None:
    lines = Lines.of(RECORDS)
    assert lines.offsets == [10, 25, 40] and lines.ts == [1_000, 2_000, 3_000] and lines.msgs == ["a", "b", "c"]
    assert list(lines) == RECORDS and lines == RECORDS and len(lines) == 3
    assert lines[1] == (25, 2_000, 1, "b") and lines[1:] == RECORDS[1:]
    assert Lines.of([list(r) for r in RECORDS]) == lines  # a spool's JSON gives lists back
    assert as_lines(lines) is lines and not Lines.of([])


def test_all_stdout_keeps_no_stream_column() -> None:
    lines = Lines.of([(0, 1, 0, "x"), (5, 2, 0, "y")])
    assert lines.streams is None and list(lines.stream_column()) == [0, 0] and lines[1] == (5, 2, 0, "y")


def test_after_cuts_what_a_replay_already_stored() -> None:
    lines = Lines.of(RECORDS)
    assert lines.after(-1) == RECORDS and lines.after(10) == RECORDS[1:] and lines.after(30) == RECORDS[2:]
    assert not lines.after(40)


def test_join_keeps_order_and_streams() -> None:
    out = Lines.of([(0, 1, 0, "x")])
    err = Lines.of([(5, 2, 1, "y")])
    joined = Lines.join([out, err, Lines.of([(9, 3, 0, "z")])])
    assert joined == [(0, 1, 0, "x"), (5, 2, 1, "y"), (9, 3, 0, "z")]
    assert Lines.join([out, out[:0]]).streams is None

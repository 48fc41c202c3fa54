"""engine/wire.py's pure part: the engine's framed log body, read back as the lines written."""

from __future__ import annotations

from dockyard.engine.wire import unframe


def frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def test_frames_are_joined_in_order() -> None:
    body = frame(1, b"2026-12-07T03:00:00.1Z one\n") + frame(1, b"2026-12-07T03:00:00.2Z two\n") + frame(1, b"")
    assert unframe(body) == b"2026-12-07T03:00:00.1Z one\n2026-12-07T03:00:00.2Z two\n"


def test_a_payload_larger_than_a_header_and_a_cut_last_frame() -> None:
    big = b"x" * 70000 + b"\n"
    assert unframe(frame(2, big) + frame(2, b"tail\n")[:5]) == big  # a header cut short is not read as lines


def test_nothing() -> None:
    assert unframe(b"") == b""

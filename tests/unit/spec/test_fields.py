from __future__ import annotations

import pytest
from pydantic_core import PydanticCustomError

from dockyard.spec import parse_duration, parse_size


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("500ms", 0.5),
        ("1s", 1.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        (5, 5.0),
        (0.25, 0.25),
        ("3", 3.0),
    ],
)
def test_durations(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize(
    ("raw", "size"),
    [
        ("128m", 128 * 1024**2),
        ("1g", 1024**3),
        ("512k", 512 * 1024),
        ("1024", 1024),
        (2048, 2048),
        ("1.5g", 3 * 2**29),
    ],
)
def test_sizes(raw: object, size: int) -> None:
    assert parse_size(raw) == size


@pytest.mark.parametrize("raw", ["fast", "-1s", "1w", True, None, [1]])
def test_bad_durations(raw: object) -> None:
    with pytest.raises(PydanticCustomError):
        parse_duration(raw)


@pytest.mark.parametrize("raw", ["big", "-1m", "1x", True, 1.5])
def test_bad_sizes(raw: object) -> None:
    with pytest.raises(PydanticCustomError):
        parse_size(raw)

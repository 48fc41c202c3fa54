"""A commit's dockyard.yml is untrusted input (issue 12, findings 1 and 6)."""
from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from dockyard.errors import SpecError
from dockyard.spec.loader import MAX_SPEC_BYTES, expanded_size, load_spec, parse_spec


def alias_bomb(levels: int = 9) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\napp: *a{levels - 1}\n"


def test_an_alias_bomb_is_refused_at_once_with_bounded_memory() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    with pytest.raises(SpecError, match="aliases"):
        parse_spec(alias_bomb())  # 9**9 = 387 million values once expanded
    assert time.monotonic() - start < 0.5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB


def test_ordinary_anchors_still_work() -> None:
    text = ("app: shop\nx-defaults: &d {port: 8080}\nservices:\n  web: *d\n  api: *d\n"
            "environments:\n  testing: {engine: local}\n")
    spec = parse_spec(text)
    assert spec.services["web"].port == spec.services["api"].port == 8080


def test_expanded_size_counts_shared_nodes_each_time_they_are_used() -> None:
    shared = ["a", "b"]
    assert expanded_size({"x": shared, "y": shared}) == 1 + 2 * (1 + 1 + 2)


def test_a_file_that_is_not_a_spec_is_not_echoed_back(tmp_path: Path) -> None:
    secret = tmp_path / "secret.key"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\nvery-secret-material\n")
    with pytest.raises(SpecError) as err:
        load_spec(secret)
    assert "very-secret" not in str(err.value) and "root:x" not in str(err.value)
    assert "must be a mapping" in str(err.value)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "dockyard.yml"
    big.write_text("app: x\n" + "#" * (MAX_SPEC_BYTES + 1))
    with pytest.raises(SpecError, match="KiB"):
        load_spec(big)

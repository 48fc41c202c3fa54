"""glibc's allocator, told to keep less in the agent (monitor/footprint.py)."""

from __future__ import annotations

import subprocess
import sys

from dockyard.monitor.footprint import SETTINGS


def test_the_settings_are_taken_in_a_fresh_process() -> None:
    # a process of its own: mallopt changes the allocator of the whole process
    done = subprocess.run([sys.executable, "-c", "from dockyard.monitor.footprint import tune_malloc; "
                           "print(tune_malloc()); x = [bytes(300_000) for _ in range(20)]; del x; print('ok')"],
                          capture_output=True, text=True, timeout=30)
    assert done.stdout.split() == ["True", "ok"], done.stderr


def test_two_arenas_and_fixed_thresholds() -> None:
    assert dict(SETTINGS) == {-8: 2, -3: 128 << 10, -1: 128 << 10}

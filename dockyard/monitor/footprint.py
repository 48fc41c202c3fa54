"""The agent's own memory: glibc's allocator told to keep less (issue 30: the agent under 40 MB).

The agent runs for the host's whole life in 8 threads. glibc gives each thread that allocates an
arena of its own (up to 8 per core), and raises its mmap threshold each time a big block is freed,
so the buffers of a log backlog read at start (1 MiB turns) stay in the heap afterwards. Two arenas
and fixed thresholds (blocks of 128 KiB and more are mapped and unmapped; the heap's top is given
back past 128 KiB free) keep the resident size near what is live, at no measurable CPU cost.
"""

from __future__ import annotations

import ctypes

# mallopt(3) parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

SETTINGS = ((M_ARENA_MAX, 2), (M_MMAP_THRESHOLD, 128 << 10), (M_TRIM_THRESHOLD, 128 << 10))


def tune_malloc(settings: tuple[tuple[int, int], ...] = SETTINGS) -> bool:
    """Apply `settings` with glibc's mallopt, before the agent's threads start; False where the C
    library has no mallopt (musl) or refuses one (the agent then runs as it would have)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own symbols: its C library's
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in settings)

"""Failed log-ins counted per source in fixed windows (issue 28): pure, the clock passed in.

A source's window opens at its first failure and lasts `window_s`. Past `limit` failures, every
log-in from that source, a right token included, is answered 429 until the window ends: an
attacker learns nothing more. When the window ends it becomes one `Summary` (how many failures,
how many answered 429), which the server writes as one audit row: 300 attempts are one row, not
300. The server is one process, so the windows live in memory; a restart starts them afresh.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass


@dataclass
class _Window:
    started: float
    failures: int = 0
    refused: int = 0


@dataclass(frozen=True)
class Summary:
    source: str
    started: float
    ended: float
    failures: int
    refused: int  # attempts answered 429 without a look at their token

    def outcome(self) -> str:
        text = f"refused: {self.failures} failed log-in{'s' if self.failures != 1 else ''}"
        return text + (f", then {self.refused} answered 429 (too many)" if self.refused else "")


class LoginThrottle:
    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._windows: dict[str, _Window] = {}
        self._ended: list[Summary] = []  # windows a new failure replaced before they were reported
        self._lock = threading.Lock()  # the server's audit loop drains windows from another thread

    def retry_after(self, source: str, now: float) -> int | None:
        """Seconds until `source` may try again (counted as a refused attempt); None: it may now."""
        with self._lock:
            window = self._windows.get(source)
            if window is None or now >= window.started + self.window_s or window.failures < self.limit:
                return None
            window.refused += 1
            return max(1, math.ceil(window.started + self.window_s - now))

    def failed(self, source: str, now: float) -> None:
        """Count a failed log-in; a window that has ended is left for `ended` to report first."""
        with self._lock:
            window = self._windows.get(source)
            if window is None or now >= window.started + self.window_s:
                if window is not None:
                    self._ended.append(self._summary(source, window))
                window = self._windows[source] = _Window(now)
            window.failures += 1

    def ended(self, now: float) -> list[Summary]:
        """The windows that have ended by `now`, each once, oldest first."""
        with self._lock:
            done = [s for s, w in self._windows.items() if now >= w.started + self.window_s]
            found = self._take() + [self._summary(s, self._windows.pop(s)) for s in done]
        return sorted(found, key=lambda s: s.started)

    def drain(self) -> list[Summary]:
        """Every window, ended or not (the server stops)."""
        with self._lock:
            found = self._take() + [self._summary(s, w) for s, w in self._windows.items()]
            self._windows.clear()
        return sorted(found, key=lambda s: s.started)

    def _take(self) -> list[Summary]:
        taken, self._ended = self._ended, []
        return taken

    def _summary(self, source: str, window: _Window) -> Summary:
        return Summary(source, window.started, window.started + self.window_s, window.failures, window.refused)

"""A bounded HTTP load on one 127.0.0.1 port that records every request: when, status, who answered.

Used by the blue-green e2e test and bench/bluegreen.py. Bounded three ways: a number of threads,
a total request count and a wall-clock limit; `stop()` ends it early.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Hit:
    sent: float  # time.monotonic()
    done: float
    status: int | None  # None: no HTTP answer at all
    body: str  # the answer (release id and colour), or the error
    worker: int = 0  # which thread sent it


@dataclass
class Load:
    url: str
    threads: int = 4
    max_requests: int = 200_000
    max_seconds: float = 170.0
    pause: float = 0.01  # between two requests of one thread: about 4 x 100 requests/s at most
    timeout: float = 5.0
    headers: dict[str, str] = field(default_factory=dict)  # e.g. the Host an edge routes by
    verify: ssl.SSLContext | bool = True  # https://127.0.0.1: the CA the edge's certificate is checked by ...
    sni: str | None = None  # ... for this name (the TLS server name; the URL stays on 127.0.0.1)
    sticky: bool = True  # each thread keeps the cookies it is given (False: every request without one)
    hits: list[Hit] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")), "load goes to 127.0.0.1 only"
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def start(self) -> Load:
        self._deadline = time.monotonic() + self.max_seconds
        self._workers = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> list[Hit]:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=self.timeout + 5)
        return list(self.hits)

    def _run(self, worker: int) -> None:
        extensions = {"sni_hostname": self.sni} if self.sni else {}
        with httpx.Client(timeout=self.timeout, headers=self.headers, verify=self.verify) as client:
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                with self._lock:
                    if len(self.hits) >= self.max_requests:
                        return
                sent = time.monotonic()
                if not self.sticky:
                    client.cookies.clear()
                try:
                    response = client.get(self.url, extensions=extensions)
                    hit = Hit(sent, time.monotonic(), response.status_code, response.text.strip(), worker)
                except httpx.HTTPError as exc:
                    hit = Hit(sent, time.monotonic(), None, f"{type(exc).__name__}: {exc}", worker)
                with self._lock:
                    self.hits.append(hit)
                self._stop.wait(self.pause)


def failures(hits: list[Hit]) -> list[Hit]:
    return [h for h in hits if h.status is None]


def non_2xx(hits: list[Hit]) -> list[Hit]:
    return [h for h in hits if h.status is not None and not 200 <= h.status < 300]


def first_answer_from(hits: list[Hit], release: str, after: float) -> float | None:
    """When the first request sent after `after` was answered by `release`."""
    times = [h.done for h in hits if h.sent >= after and h.body.split(" ")[0] == release]
    return min(times) if times else None

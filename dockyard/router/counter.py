"""The balancer's request counter: nginx's stub_status on the preview listener (render.STATUS_PATH).

It counts every request the environment's nginx answered since it started (a reload keeps it):
live traffic, plus the preview listener's, which carries only tests and these reads.
"""

from __future__ import annotations

import http.client
import time

from dockyard.router.render import STATUS_PATH


def parse_stub_status(text: str) -> int:
    """The `requests` figure of a stub_status page:

    Active connections: 1
    server accepts handled requests
     12 12 34
    Reading: 0 Writing: 1 Waiting: 0
    """
    lines = text.splitlines()
    for index, line in enumerate(lines[:-1]):
        if line.split() == ["server", "accepts", "handled", "requests"]:
            figures = lines[index + 1].split()
            if len(figures) == 3 and all(f.isdigit() for f in figures):
                return int(figures[2])
    raise ValueError("not an nginx stub_status page")


def read_request_counter(preview_port: int, timeout: float = 2.0) -> tuple[float, int] | None:
    """(when, requests so far) from the balancer on 127.0.0.1; None when it does not answer. Over the
    stdlib's http.client: a rollback that reads it does not load httpx (~100 ms)."""
    conn = http.client.HTTPConnection("127.0.0.1", preview_port, timeout=timeout)
    try:
        conn.request("GET", STATUS_PATH)
        response = conn.getresponse()
        at = time.time()
        body = response.read(64 * 1024)
        if response.status >= 400:
            return None
        return at, parse_stub_status(body.decode(errors="replace"))
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()

"""127.0.0.1 ports for the tests' own listeners (an edge, a balancer, a registry, pebble, a server).

Never from the kernel's ephemeral range: Dockyard gives a replica a port from that range, and so do
the kernel (to any socket bound to port 0) and Docker, so a test that took one there and let it go
could find it held by a replica of a test in the other lane by the time its edge binds it. Each
pytest process (the serial lane's, each xdist worker's) walks its own slice of the ports below
that range, so two processes never hand out the same port, and skips any port something holds now.
"""

from __future__ import annotations

import os
import random
import socket
import threading
from pathlib import Path

SLICE = 1200
SLICES = 8


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _slot() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...; empty in a lane without xdist
    return 1 + int(worker[2:]) % (SLICES - 1) if worker.startswith("gw") and worker[2:].isdigit() else 0


_START = _ephemeral_low() - SLICES * SLICE + _slot() * SLICE
_lock = threading.Lock()
_next = random.randrange(SLICE)  # a different walk each run, away from the last run's TIME_WAITs


def free_port() -> int:
    """A port of this process's slice that nothing holds now."""
    global _next
    with _lock:
        for _ in range(SLICE):
            port = _START + _next % SLICE
            _next += 1
            if _bindable(port):
                return port
    raise OSError(f"no free port in {_START}-{_START + SLICE - 1}")


def free_listen() -> str:
    return f"127.0.0.1:{free_port()}"


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

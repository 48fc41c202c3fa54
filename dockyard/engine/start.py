"""The published port a replica starts on (engine/lifecycle.py says when one was taken).

On an engine of this host Dockyard picks the 127.0.0.1 port itself (`free_port`) and the container
keeps it: an engine restart brings the container back on the same port, so the balancer's upstreams
stay right. A remote engine picks one from its ephemeral range; it may be taken by something the
engine does not know (another engine on the host, a local program), which fails the start with
"address already in use", and starting again makes it pick the next port.
"""

from __future__ import annotations

import socket

from dockyard import settings
from dockyard.errors import DockyardError

PORT_TRIES = 5


def free_port(reserved: frozenset[int] | None = None) -> int:
    """A 127.0.0.1 port nothing listens on now, from the kernel's ephemeral range, and none of
    `reserved` (default: the edge's ports from the site settings, which a replica must not take
    before the edge first starts)."""
    taken = reserved if reserved is not None else edge_ports()
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            return port
    raise OSError("no free 127.0.0.1 port outside the reserved ones")


def edge_ports() -> frozenset[int]:
    try:
        edge = settings.load().edge
    except DockyardError:  # an unreadable settings file is reported where it is used
        return frozenset()
    return frozenset((edge.http_port, edge.https_port))

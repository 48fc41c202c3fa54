"""The server's listening socket: Nagle off on every connection it accepts.

With Nagle on, a keep-alive response whose body follows its headers in a second write waited for
the client's delayed ACK: 40 ms on every request after a connection's first (bench/dashboard.py
measured every page and API call at 40 ms more than its work).
"""

from __future__ import annotations

import socket

from dockyard.server.runtime import bind


def test_the_listening_socket_is_tcp_with_nagle_off() -> None:
    listener = bind("127.0.0.1", 0)
    try:
        # asyncio sets TCP_NODELAY on an accepted socket only when its proto says TCP
        assert listener.proto == socket.IPPROTO_TCP
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.proto == socket.IPPROTO_TCP
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        listener.close()

"""A TCP health probe passes only when something listens behind the published port (issue 12,
finding 12): docker-proxy accepts on the host and closes at once when the container does not listen."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from dockyard.deploy.probes import tcp_probe


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, list[str]]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    mode: list[str] = ["hold"]
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            if mode[0] == "close":  # what docker-proxy does when the container refuses
                conn.close()
            elif mode[0] == "greet":
                conn.sendall(b"+OK\r\n")
                held.append(conn)
            else:
                held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    yield server, mode
    server.close()
    for conn in held:
        conn.close()


def test_a_proxy_that_closes_at_once_fails(listener: tuple[socket.socket, list[str]]) -> None:
    server, mode = listener
    mode[0] = "close"
    ok, reason = tcp_probe("127.0.0.1", server.getsockname()[1], 2.0)
    assert not ok and "nothing listens" in reason


def test_a_listener_that_holds_or_greets_passes(listener: tuple[socket.socket, list[str]]) -> None:
    server, mode = listener
    assert tcp_probe("127.0.0.1", server.getsockname()[1], 2.0)[0]
    mode[0] = "greet"
    assert tcp_probe("127.0.0.1", server.getsockname()[1], 2.0) == (True, "TCP connect ok (it spoke first)")


def test_nothing_on_the_port_fails() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ok, reason = tcp_probe("127.0.0.1", port, 1.0)
    assert not ok and reason.startswith("TCP connect:")

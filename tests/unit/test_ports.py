"""The tests' own ports (tests/ports.py) stay out of the ephemeral range Dockyard gives replicas from."""
from __future__ import annotations

import socket

from tests import ports


def test_ports_are_below_the_ephemeral_range_distinct_and_free() -> None:
    taken = [ports.free_port() for _ in range(50)]
    assert len(set(taken)) == 50
    assert all(port < ports._ephemeral_low() for port in taken)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", taken[0]))


def test_a_port_something_holds_is_skipped() -> None:
    with socket.socket() as held:
        port = ports.free_port()
        held.bind(("127.0.0.1", port))
        held.listen()
        ports._next -= 1  # the walk comes back to the held port
        assert ports.free_port() != port

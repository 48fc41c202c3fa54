from __future__ import annotations

from dockyard.monitor.model import Listener
from dockyard.monitor.procnet import parse_listeners, parse_net_dev, unique_listeners


def test_net_dev_skips_loopback(fixture_text) -> None:
    net = parse_net_dev(fixture_text("proc/net_dev"))
    assert (net.rx_bytes, net.rx_packets, net.tx_bytes) == (426, 5, 0)


def test_net_dev_sums_interfaces() -> None:
    text = ("Inter-|   Receive |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|...\n"
            "    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n"
            "  eth0: 10 2 0 0 0 0 0 0 20 3 1 0 0 0 0 0\n"
            "  eth1: 5 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0\n")
    net = parse_net_dev(text)
    assert (net.rx_bytes, net.tx_bytes, net.tx_packets, net.tx_errors) == (15, 27, 4, 1)


def test_tcp6_listener_captured(fixture_text) -> None:
    assert parse_listeners(fixture_text("proc/net_tcp6"), "tcp") == [Listener("tcp", 8080, "::")]
    assert parse_listeners(fixture_text("proc/net_tcp"), "tcp") == []


def test_tcp_listeners_only_state_0a(fixture_text) -> None:
    found = parse_listeners(fixture_text("proc/handwritten/net_tcp"), "tcp")
    assert found == [Listener("tcp", 8080, "0.0.0.0"), Listener("tcp", 6379, "127.0.0.1")]


def test_udp_bound_unconnected_sockets(fixture_text) -> None:
    found = parse_listeners(fixture_text("proc/handwritten/net_udp"), "udp")
    assert found == [Listener("udp", 9999, "0.0.0.0"), Listener("udp", 53, "127.0.0.1")]


def test_unique_prefers_wildcard() -> None:
    items = [Listener("tcp", 80, "10.0.0.2"), Listener("tcp", 80, "::"), Listener("udp", 53, "0.0.0.0")]
    assert unique_listeners(items) == [Listener("tcp", 80, "::"), Listener("udp", 53, "0.0.0.0")]


def test_net_bytes_agrees_with_the_full_parser(fixture_text) -> None:
    from dockyard.monitor.procnet import net_bytes

    text = fixture_text("proc/net_dev")
    full = parse_net_dev(text)
    assert net_bytes(text) == (full.rx_bytes, full.tx_bytes) and full.rx_bytes > 0

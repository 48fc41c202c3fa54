"""Pure parsers for /proc/<pid>/net/{dev,tcp,tcp6,udp,udp6}, read in a container's network namespace."""

from __future__ import annotations

import ipaddress

from dockyard.monitor.model import Listener, NetStats

TCP_LISTEN = "0A"
UDP_UNCONNECTED = "07"  # a bound UDP socket with no peer: a UDP "listener"


def parse_net_dev(text: str, skip: tuple[str, ...] = ("lo",)) -> NetStats:
    """Sum the counters of every interface except loopback."""
    rx = tx = rxp = txp = rxe = txe = 0
    for line in text.splitlines()[2:]:
        name, _, counters = line.partition(":")
        if name.strip() in skip or not counters:
            continue
        f = counters.split()
        rx += int(f[0])
        rxp += int(f[1])
        rxe += int(f[2])
        tx += int(f[8])
        txp += int(f[9])
        txe += int(f[10])
    return NetStats(rx_bytes=rx, tx_bytes=tx, rx_packets=rxp, tx_packets=txp, rx_errors=rxe, tx_errors=txe)


def net_bytes(text: str, skip: tuple[str, ...] = ("lo",)) -> tuple[int, int]:
    """(received, sent) bytes of /proc/<pid>/net/dev, every interface but loopback: parse_net_dev's
    rx_bytes and tx_bytes, without the rest (the sweep publishes these two)."""
    rx = tx = 0
    for line in text.splitlines()[2:]:
        name, _, counters = line.partition(":")
        if counters and name.strip() not in skip:
            f = counters.split(None, 9)
            rx += int(f[0])
            tx += int(f[8])
    return rx, tx


def _address(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # IPv6: four 32-bit words, each in host (little-endian) order.
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    addr = ipaddress.IPv6Address(words)
    return str(addr.ipv4_mapped or addr)


def parse_listeners(text: str, proto: str) -> list[Listener]:
    """Listening sockets of one /proc/net/{tcp,tcp6,udp,udp6} file: TCP state 0A, UDP unconnected (07)."""
    want = TCP_LISTEN if proto == "tcp" else UDP_UNCONNECTED
    found: list[Listener] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != want:
            continue
        if proto == "udp" and not fields[2].endswith(":0000"):
            continue
        host, _, port = fields[1].partition(":")
        found.append(Listener(proto=proto, port=int(port, 16), address=_address(host)))
    return found


def unique_listeners(listeners: list[Listener]) -> list[Listener]:
    """One entry per (proto, port), preferring a wildcard address, sorted."""
    best: dict[tuple[str, int], Listener] = {}
    for item in listeners:
        key = (item.proto, item.port)
        if key not in best or item.address in ("0.0.0.0", "::"):
            best[key] = item
    return [best[k] for k in sorted(best)]


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback

from __future__ import annotations

import socket
import struct

from dockyard.monitor.model import Listener
from dockyard.monitor.sockdiag import build_request, parse_reply


def test_request_layout() -> None:
    req = build_request(socket.AF_INET6, seq=7)
    length, kind, flags, seq, _ = struct.unpack_from("=IHHII", req)
    assert (length, kind, flags, seq) == (len(req), 20, 0x301, 7) and len(req) == 16 + 56
    assert req[16:18] == bytes([socket.AF_INET6, socket.IPPROTO_TCP])
    assert struct.unpack_from("=I", req, 20)[0] == 1 << 10  # LISTEN only


def diag_msg(family: int, port: int, addr: bytes) -> bytes:
    body = struct.pack("=BBBB", family, 10, 0, 0) + struct.pack("!HH", port, 0) + addr.ljust(16, b"\0") \
        + bytes(16) + bytes(4 + 8) + bytes(20)
    return struct.pack("=IHHII", 16 + len(body), 20, 2, 1, 0) + body


def test_parse_reply_v4_v6_and_done() -> None:
    data = diag_msg(socket.AF_INET, 8080, bytes(4)) + diag_msg(socket.AF_INET6, 443, bytes(16))
    found, done = parse_reply(data)
    assert found == [Listener("tcp", 8080, "0.0.0.0"), Listener("tcp", 443, "::")] and not done
    assert parse_reply(struct.pack("=IHHII", 20, 3, 2, 1, 0) + bytes(4)) == ([], True)

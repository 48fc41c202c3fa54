"""The Swarm log stream: frames, one line's details, and the filters."""

from __future__ import annotations

import io

from dockyard.engine.services import frames
from dockyard.engine.swarm_facts import parse_node, parse_service
from dockyard.swarm.logs import matches, rfc3339_ns, to_line
from tests.unit.swarm.test_plan_and_facts import NODES, SERVICE


def frame(stream: int, text: str) -> bytes:
    data = text.encode()
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


DETAILS = "com.docker.swarm.node.id=n2,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t9"


def test_frames_keep_which_stream_a_line_came_from() -> None:
    raw = io.BytesIO(frame(1, "a\n") + frame(2, "b c\n") + frame(1, "") + b"\x01\x00")  # a torn header ends it
    assert list(frames(raw)) == [(1, b"a\n"), (2, b"b c\n"), (1, b"")]


def test_a_line_names_its_node_task_and_stream() -> None:
    service = parse_service(SERVICE)
    nodes = {n["ID"]: parse_node(n) for n in NODES}
    line = to_line(2, f"2026-11-26T02:47:15.399713476Z {DETAILS} GET /x failed: timeout\n".encode(), service,
                   nodes, {"t9": 3})
    assert line is not None
    assert (line.time_ns, line.stream, line.host, line.container, line.container_id) == (
        1795661235399713476, "stderr", "vm2", "shop-prod-web.3.t9", "t9")
    assert (line.message, line.app, line.env, line.service, line.release) == (
        "GET /x failed: timeout", "shop", "prod", "web", "r2")
    assert to_line(1, b"no details at all\n", service, nodes, {}) is None
    assert rfc3339_ns("2026-11-26T02:47:15Z") == 1795661235_000_000_000 and rfc3339_ns("garbage") == 0


def test_grep_and_container_filters() -> None:
    line = to_line(1, f"2026-11-26T02:47:15.1Z {DETAILS} Timeout talking to db".encode(), parse_service(SERVICE),
                   {}, {"t9": 1})
    assert line is not None and line.host == "n2"  # an unknown node: its id
    assert matches(line, "timeout", None) and not matches(line, "refused", None)
    assert matches(line, None, "shop-prod-web.1") and matches(line, None, "t9")
    assert not matches(line, None, "shop-prod-web.2")

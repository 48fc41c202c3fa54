"""A canary's weight at the real edge (issue 32): changed in the running HAProxy over its admin
socket, with no reload (the same process serves before and after), kept in the files a new process
starts from; -1 cuts everybody off the canary at once, testers with the match header too."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockyard.router.edge import Edge
from dockyard.router.edge_render import Canary, EdgeRoute, EdgeSite
from tests.ports import free_port

pytestmark = pytest.mark.integration


@contextmanager
def answering(text: str) -> Iterator[str]:
    """An upstream on 127.0.0.1 answering `text` to every GET: its host:port."""
    body = text.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def seen(port: int, headers: dict[str, str] | None = None, n: int = 40) -> Counter[str]:
    """Who answered n requests of shop.test, each a new client (no cookie, a new connection)."""
    return Counter(httpx.get(f"http://127.0.0.1:{port}/", headers={"Host": "shop.test", **(headers or {})},
                             timeout=5).text for _ in range(n))


def test_a_weight_changes_in_the_running_edge_and_minus_one_cuts_testers_off(dockyard_env: Path) -> None:
    port = free_port()
    edge = Edge(home=dockyard_env, site=EdgeSite("127.0.0.1", port, free_port()))
    weights = dockyard_env / "edge" / "canary-weights.map"
    with answering("stable") as stable, answering("canary") as canary:
        try:
            edge.publish(EdgeRoute("shop", "live", ("shop.test",), (stable,),
                                   canary=Canary("r2", (canary,), 0, False, "X-Canary")), lambda name: name)
            running = edge.processes()
            assert seen(port) == {"stable": 40} and seen(port, {"X-Canary": "always"}) == {"canary": 40}

            assert edge.weigh_canary("shop", "live", 100)
            assert seen(port) == {"canary": 40}
            assert edge.processes() == running  # no reload: the same process, its map changed
            route = edge.route("shop", "live")
            assert route is not None and route.canary is not None and route.canary.weight == 100
            assert weights.read_text() == "shop_live 100\n"

            assert edge.weigh_canary("shop", "live", 30)
            share = seen(port, n=300)["canary"]
            assert 50 <= share <= 130, share  # 30 % of 300 is 90

            assert edge.weigh_canary("shop", "live", -1)  # an abort's first move
            assert seen(port) == {"stable": 40} and seen(port, {"X-Canary": "always"}) == {"stable": 40}
            assert edge.processes() == running and weights.read_text() == "shop_live -1\n"
            edge.reload()  # a new process starts from the files: still cut off
            assert edge.processes() != running and seen(port, {"X-Canary": "always"}) == {"stable": 40}

            # no canary to weigh: the caller publishes instead
            assert not edge.weigh_canary("shop", "staging", 5)
            edge.publish(EdgeRoute("shop", "live", ("shop.test",), (stable,)), lambda name: name)
            assert not edge.weigh_canary("shop", "live", 5) and weights.read_text() == ""
        finally:
            edge.stop(timeout=5)

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from dockyard.monitor.inventory import Tracked
from dockyard.monitor.model import Listener
from dockyard.monitor.probes import Service, http_sd, parse_status_line, probe, probe_tcp, zabbix_lld


def container(ports: dict) -> Tracked:
    return Tracked(id="a", name="shop-t-web-1", labels={"dockyard.app": "shop", "dockyard.env": "t",
                                                         "dockyard.service": "web"}, pid=1, running=True,
                   ports=ports)


def test_status_line() -> None:
    assert parse_status_line(b"HTTP/1.0 200 OK\r\n") == 200
    assert parse_status_line(b"SSH-2.0-OpenSSH") is None


def test_sd_documents() -> None:
    services = [Service(container({(8080, "tcp"): 32001}), Listener("tcp", 8080, "::")),
                Service(container({}), Listener("udp", 53, "0.0.0.0"))]
    assert http_sd(services, "h") == [{"targets": ["127.0.0.1:32001"], "labels": {
        "host": "h", "app": "shop", "env": "t", "service": "web", "container": "shop-t-web-1", "port": "8080",
        "proto": "tcp"}}]
    lld = zabbix_lld(services, "h")["data"]
    assert lld[0]["{#PORT}"] == 8080 and lld[0]["{#HOSTPORT}"] == 32001 and lld[1]["{#HOSTPORT}"] == ""


class Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_http_and_tcp_and_refused_probes() -> None:
    server = HTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.handle_request, daemon=True).start()
    kind, ok, latency, detail = probe_tcp(server.server_address[1])
    server.server_close()
    assert (kind, ok, detail) == ("http", True, "HTTP 204") and latency >= 0

    raw = socket.socket()
    raw.bind(("127.0.0.1", 0))
    raw.listen(1)

    def silent() -> None:
        conn, _ = raw.accept()
        conn.recv(100)
        conn.close()

    threading.Thread(target=silent, daemon=True).start()
    assert probe_tcp(raw.getsockname()[1], timeout=1)[:2] == ("tcp", True)
    port = raw.getsockname()[1]
    raw.close()
    kind, ok, _, _ = probe_tcp(port, timeout=1)
    assert not ok


def test_unpublished_or_udp_not_probed() -> None:
    assert probe(Service(container({}), Listener("tcp", 8080, "::"))) is None
    assert probe(Service(container({(53, "udp"): 5353}), Listener("udp", 53, "::"))) is None

"""A CA that reuses an authorization it validated before (Let's Encrypt does, for 30 days): the
second order of the same name comes with a valid authorization, whose challenge must not be
answered again (the CA refuses: "Cannot update challenge with status valid")."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from dockyard.router.acme_client import AcmeSite, issue
from tests.integration.edge.pebble import Pebble

pytestmark = pytest.mark.integration
PREFIX = "/.well-known/acme-challenge/"


class ChallengeServer:
    """Serves the key authorizations `answer` gives it, as the edge does on its HTTP port."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        tokens = self.tokens

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                body = tokens.get(self.path.removeprefix(PREFIX), "") if self.path.startswith(PREFIX) else ""
                self.send_response(200 if body else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def answer(self, tokens: dict[str, str]) -> None:
        self.tokens.clear()
        self.tokens.update(tokens)


@pytest.fixture
def reusing_ca(tmp_path: Path) -> Iterator[tuple[Pebble, ChallengeServer]]:
    server = ChallengeServer()
    pebble = Pebble(tmp_path / "pebble", http_port=server.http.server_address[1], authz_reuse=100).start()
    try:
        yield pebble, server
    finally:
        for proc in pebble.procs:
            proc.terminate()
            proc.wait(10)
        server.http.shutdown()


def test_a_second_order_with_a_valid_authorization_is_issued(reusing_ca: tuple[Pebble, ChallengeServer],
                                                             tmp_path: Path) -> None:
    pebble, server = reusing_ca
    site = AcmeSite(pebble.directory, ca_bundle=str(pebble.ca_bundle), timeout=30)
    serials = []
    for _ in range(2):
        chain, _key = issue(["reuse.test"], site, tmp_path / "account", server.answer)
        cert = x509.load_pem_x509_certificate(chain)
        assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName) == ["reuse.test"]
        serials.append(cert.serial_number)
    assert serials[0] != serials[1]  # two certificates, the second on the reused authorization

"""Log-in over HTTPS: `dockyard server --tls-cert/--tls-key` sets its cookies Secure (a browser
never sends them over plain HTTP), besides HttpOnly and SameSite=Strict."""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_cli
from tests.integration.server.conftest import DOCKYARD, site_env
from tests.ports import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext, dict[str, str]]]:
    cert, key = tmp_path / "server.pem", tmp_path / "server-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    env = site_env(tmp_path)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("ab") as out:
        proc = subprocess.Popen([DOCKYARD, "server", "--listen", f"127.0.0.1:{port}", "--tls-cert", str(cert),
                                 "--tls-key", str(key)], env={**os.environ, **env}, stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL)
    trust = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/health", verify=trust, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        yield url, trust, env
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_the_session_and_login_cookies_are_secure_over_https(
        https_server: tuple[str, ssl.SSLContext, dict[str, str]]) -> None:
    url, trust, env = https_server
    token = run_cli("token", "create", "--name", "tls-viewer", "--scope", "read", env=env).stdout.strip()
    with httpx.Client(base_url=url, verify=trust, timeout=30) as client:
        form = client.get("/login")
        nonce_cookie = form.headers["set-cookie"]
        assert "Secure" in nonce_cookie and "HttpOnly" in nonce_cookie and "SameSite=strict" in nonce_cookie
        nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
        assert nonce
        logged_in = client.post("/login", data={"nonce": nonce.group(1), "token": token})
        assert logged_in.status_code == 303, logged_in.text
        session = next(c for c in logged_in.headers.get_list("set-cookie") if c.startswith("dockyard_session="))
        assert "Secure" in session and "HttpOnly" in session and "SameSite=strict" in session
        assert client.get("/runs").status_code == 200  # the session works over HTTPS

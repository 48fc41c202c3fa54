"""The config store on an etcd that runs with TLS, client certificates and a user per prefix (issue 12):
a second, real etcd started with --client-cert-auth and auth enabled through its own v3 API."""
from __future__ import annotations

import base64
import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dockyard.config.etcd_store import EtcdAccess, EtcdStore
from dockyard.errors import StoreUnavailable
from tests.ports import free_port

pytestmark = pytest.mark.integration


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(d: Path) -> None:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=dockyard-test-etcd-ca", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n")
    # etcd 3.4's JSON gateway refuses a client certificate with a CommonName once auth is on (the CN
    # would not be the user): the client certificate proves the machine, the user logs in by password.
    for name, subject in (("server", "/CN=etcd-server"), ("client", "/O=dockyard-client")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr",
                "-subj", subject, cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
                "-out", f"{name}.pem", "-days", "2", "-extfile", "san.ext", cwd=d)
    for key in d.glob("*-key.pem"):
        key.chmod(0o600)


@dataclass
class SecureEtcd:
    port: int
    certs: Path

    def access(self, user: str | None = "dockyard", password: str | None = "dy-pw", cert: bool = True) -> EtcdAccess:
        return EtcdAccess(ca=str(self.certs / "ca.pem"), cert=str(self.certs / "client.pem") if cert else None,
                          key=str(self.certs / "client-key.pem") if cert else None, user=user, password=password)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def secure_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureEtcd]:
    root = tmp_path_factory.mktemp("etcd-tls")
    certs = root / "certs"
    certs.mkdir()
    make_certs(certs)
    port, peer = free_port(), free_port()
    url = f"https://127.0.0.1:{port}"
    log = (root / "etcd.log").open("wb")
    proc = subprocess.Popen(
        ["etcd", "--name", "dy-tls-test", "--data-dir", str(root / "data"),
         "--listen-client-urls", url, "--advertise-client-urls", url,
         "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"dy-tls-test=http://127.0.0.1:{peer}",
         "--client-cert-auth", "--trusted-ca-file", str(certs / "ca.pem"),
         "--cert-file", str(certs / "server.pem"), "--key-file", str(certs / "server-key.pem")],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    context.load_cert_chain(str(certs / "client.pem"), str(certs / "client-key.pem"))
    client = httpx.Client(base_url=url, verify=context, timeout=5)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (root / "etcd.log").read_text()[-2000:]
            try:
                if client.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the TLS etcd did not start"
            time.sleep(0.2)
        # root, and a user whose role covers /dy-test/ only; then auth on
        for call, body in (("user/add", {"name": "root", "password": "root-pw"}),
                           ("role/add", {"name": "root"}), ("user/grant", {"user": "root", "role": "root"}),
                           ("user/add", {"name": "dockyard", "password": "dy-pw"}),
                           ("role/add", {"name": "dockyard-rw"}),
                           ("role/grant", {"name": "dockyard-rw", "perm": {
                               "permType": "READWRITE", "key": b64("/dy-test/"), "range_end": b64("/dy-test0")}}),
                           ("user/grant", {"user": "dockyard", "role": "dockyard-rw"}), ("enable", {})):
            answer = client.post(f"/v3/auth/{call}", json=body)
            assert answer.status_code == 200, (call, answer.text)
        yield SecureEtcd(port, certs)
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def test_the_store_works_over_tls_as_its_user_on_its_prefix(secure_etcd: SecureEtcd) -> None:
    store = EtcdStore("127.0.0.1", secure_etcd.port, prefix="/dy-test/", access=secure_etcd.access())
    try:
        from dockyard.config.store import StoredValue

        rev = store.set_many("production", "shop", {"DB_HOST": StoredValue("db1", False)}, "ann")
        assert store.snapshot("production", "shop")["DB_HOST"].value == "db1" and rev >= 1
    finally:
        store.close()


def test_another_prefix_is_refused_for_that_user(secure_etcd: SecureEtcd) -> None:
    store = EtcdStore("127.0.0.1", secure_etcd.port, prefix="/other-team/", access=secure_etcd.access())
    try:
        with pytest.raises(StoreUnavailable, match="refused user dockyard on /other-team/"):
            store.snapshot("production", "shop")
    finally:
        store.close()


def test_no_client_certificate_or_a_wrong_password_is_refused(secure_etcd: SecureEtcd) -> None:
    with pytest.raises(StoreUnavailable):
        EtcdStore("127.0.0.1", secure_etcd.port, prefix="/dy-test/", access=secure_etcd.access(cert=False))
    with pytest.raises(StoreUnavailable, match="authentication failed"):
        EtcdStore("127.0.0.1", secure_etcd.port, prefix="/dy-test/", access=secure_etcd.access(password="wrong"))
    plain = EtcdStore("127.0.0.1", secure_etcd.port, prefix="/dy-test/", access=secure_etcd.access(user=None))
    try:
        with pytest.raises(StoreUnavailable):
            plain.snapshot("production", "shop")
    finally:
        plain.close()
    assert os.path.exists(secure_etcd.certs / "ca.pem")

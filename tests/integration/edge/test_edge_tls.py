"""HTTPS at the edge on real nginx (issue 15): certificates from Debian's pebble over HTTP-01, renewed
on demand, a renewal that fails (validation, a CA that does not answer) keeping the certificate
that serves and recording why; self-signed and installed certificates; a pair that does not
match refused."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import stat
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dockyard.notify.listing import recorded_alerts
from dockyard.router.edge import Edge
from dockyard.state.db import StateDB
from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources, run_cli
from tests.integration.edge.pebble import Pebble, https_get
from tests.json_schemas import check
from tests.ports import free_port

pytestmark = pytest.mark.integration


def ok(*args: str, cwd: Path | None = None) -> str:
    result = run_cli(*args, cwd=cwd)
    assert result.returncode == 0, f"dockyard {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def tls_app(root: Path, domain: str, tls: str, extra: str = "") -> TestApp:
    env = (f"  site:\n    engine: local\n    registry: local\n    domains: [{domain}]\n    tls: {tls}\n{extra}")
    return make_app(root, replicas=1, extra_envs=env)


@pytest.fixture
def edge(dockyard_env: Path, docker_client: docker.DockerClient, tmp_path: Path) -> Iterator[tuple]:
    http, https = free_port(), free_port()
    pebble = Pebble(tmp_path / "pebble", http_port=http).start()
    ok("edge", "configure", "--address", "127.0.0.1", "--http-port", str(http), "--https-port", str(https),
       "--acme-directory", pebble.directory, "--acme-ca-bundle", str(pebble.ca_bundle))
    apps: list[TestApp] = []
    try:
        yield pebble, https, http, apps
    finally:
        for app in apps:
            remove_app_resources(docker_client, app.name)
        Edge(home=dockyard_env).stop(timeout=5)
        pebble.stop()


def deploy(app: TestApp) -> str:
    ok("build", cwd=app.path)
    ok("config", "set", "site", "GREETING=one", cwd=app.path)
    return ok("deploy", "site", cwd=app.path)


def test_acme_issues_serves_renews_and_a_failed_renewal_keeps_the_certificate(edge, tmp_path: Path,
                                                                             dockyard_env: Path) -> None:
    pebble, https, http, apps = edge
    app = tls_app(tmp_path, "shop.test", "acme", "    hsts: true\n    redirects: {www.shop.test: shop.test}\n")
    apps.append(app)
    out = deploy(app)
    assert "edge: HTTPS for shop.test, www.shop.test" in out, out
    roots = pebble.roots()
    answer = https_get(https, "shop.test", "/health", roots)
    assert answer.status == 200 and "ok" in answer.body
    assert answer.headers["strict-transport-security"] == "max-age=31536000"
    names = answer.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"shop.test", "www.shop.test"}
    assert https_get(https, "www.shop.test", "/x", roots).headers["location"] == f"https://shop.test:{https}/x"
    plain = httpx.get(f"http://127.0.0.1:{http}/health?a=1", headers={"Host": "shop.test"})
    assert plain.status_code == 308 and plain.headers["location"] == f"https://shop.test:{https}/health?a=1"
    for key in (dockyard_env / "edge").rglob("*.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert stat.S_IMODE((dockyard_env / "edge" / "acme" / "account.json").stat().st_mode) == 0o600
    with pytest.raises(ssl.SSLError):  # a name the edge has no certificate for: no handshake
        https_get(https, "other.test", "/", roots)

    # renewal: every certificate due now
    configured = check("edge-change.schema.json", json.loads(ok("edge", "configure", "--renew-before-days", "100000",
                                                                 "--json")))
    assert configured["renew_before_days"] == 100000
    assert check("edge-change.schema.json", json.loads(ok("edge", "renew", "--json"))) == {"current": True,
                                                                                         "problems": []}
    renewed = https_get(https, "shop.test", "/health", roots)
    assert renewed.status == 200 and renewed.cert.serial_number != answer.cert.serial_number

    # a renewal whose validation cannot reach the edge: refused by the CA; the certificate stays
    pebble.resolve("shop.test", "127.0.0.2")
    failed = run_cli("edge", "renew")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "not renewed (the previous one still serves)" in failed.stdout + failed.stderr
    assert https_get(https, "shop.test", "/health", roots).cert.serial_number == renewed.cert.serial_number
    db = StateDB(dockyard_env / "state.db")
    events = recorded_alerts(db, app.name)
    db.close()
    assert events and events[0]["rule"] == "edge:certificate" and "shop.test" in events[0]["message"]

    # a CA that does not answer: the same
    pebble.stop_ca()
    down = run_cli("edge", "renew")
    assert down.returncode == 1 and "does not answer" in down.stdout + down.stderr
    assert https_get(https, "shop.test", "/health", roots).cert.serial_number == renewed.cert.serial_number
    status = json.loads(ok("edge", "status", "--json"))
    assert status["routes"][0]["urls"] == [f"https://shop.test:{https}/"]


def test_self_signed_and_installed_certificates(edge, tmp_path: Path) -> None:
    _, https, _, apps = edge
    internal = tls_app(tmp_path, "internal.test", "self-signed")
    apps.append(internal)
    deploy(internal)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", https), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="internal.test") as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    assert cert.issuer == cert.subject  # self-signed, for its name
    assert cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == ["internal.test"]

    ca, ca_key = make_ca()
    cert_file, key_file = signed(tmp_path, ca, ca_key, "own.test")
    other_key = tmp_path / "other.key"
    other_key.write_bytes(ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    refused = run_cli("edge", "cert", "add", "own.test", "--cert", str(cert_file), "--key", str(other_key))
    assert refused.returncode == 2 and "does not match its key" in refused.stderr
    wrong_name = run_cli("edge", "cert", "add", "shop.test", "--cert", str(cert_file), "--key", str(key_file))
    assert wrong_name.returncode == 2 and "is for own.test, not shop.test" in wrong_name.stderr
    ok("edge", "cert", "add", "own.test", "--cert", str(cert_file), "--key", str(key_file))
    own = tls_app(tmp_path, "own.test", "installed")
    apps.append(own)
    deploy(own)
    ca_file = tmp_path / "own-ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    answer = https_get(https, "own.test", "/health", ca_file)
    assert answer.status == 200 and "ok" in answer.body


def make_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "operator test CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def signed(folder: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, name: str) -> tuple[Path, Path]:
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_file, key_file = folder / f"{name}.pem", folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file

"""Debian's pebble (an ACME test CA) and pebble-challtestsrv (its DNS, answering 127.0.0.1 for every
name) on free 127.0.0.1 ports, and an HTTPS client that connects to 127.0.0.1 with any SNI name."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.ports import free_port


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def server_cert(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for 127.0.0.1 it signed: pebble's own HTTPS. (ca, cert, key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dockyard test pebble CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False),
                         critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pebble")]))
            .issuer_name(ca_name).public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    _write_key(paths[2], leaf_key)
    return paths


@dataclass
class Pebble:
    folder: Path
    http_port: int  # where pebble validates HTTP-01: the edge's HTTP port
    acme_port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    dns_port: int = field(default_factory=free_port)
    dns_management_port: int = field(default_factory=free_port)
    authz_reuse: int = 0  # percent of orders that get an authorization validated before
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def directory(self) -> str:
        return f"https://127.0.0.1:{self.acme_port}/dir"

    @property
    def ca_bundle(self) -> Path:
        return self.folder / "ca.pem"

    def start(self) -> Pebble:
        self.folder.mkdir(parents=True, exist_ok=True)
        _, cert, key = server_cert(self.folder)
        config = {"pebble": {"listenAddress": f"127.0.0.1:{self.acme_port}",
                             "managementListenAddress": f"127.0.0.1:{self.management_port}",
                             "certificate": str(cert), "privateKey": str(key), "httpPort": self.http_port,
                             "tlsPort": free_port(), "ocspResponderURL": "", "externalAccountBindingRequired": False}}
        (self.folder / "pebble.json").write_text(json.dumps(config))
        log = (self.folder / "pebble.log").open("ab")
        self.procs.append(subprocess.Popen(
            ["pebble-challtestsrv", "-management", f"127.0.0.1:{self.dns_management_port}",
             "-dns01", f"127.0.0.1:{self.dns_port}", "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""], stdout=log, stderr=log))
        env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0",
               "PEBBLE_AUTHZREUSE": str(self.authz_reuse)}
        self.procs.append(subprocess.Popen(
            ["pebble", "-config", str(self.folder / "pebble.json"), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
            stdout=log, stderr=log, env=env))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.directory, verify=self.trust(), timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"pebble did not answer: {(self.folder / 'pebble.log').read_text()[-2000:]}")

    def trust(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def stop_ca(self) -> None:
        """Stop pebble itself (its DNS stays): the ACME directory no longer answers."""
        proc = self.procs.pop()
        proc.terminate()
        proc.wait(10)

    def resolve(self, name: str, address: str) -> None:
        """Make the DNS name `name` point at `address` (a validation that cannot reach the edge)."""
        httpx.post(f"http://127.0.0.1:{self.dns_management_port}/add-a",
                   json={"host": name + ".", "addresses": [address]}, timeout=5).raise_for_status()

    def roots(self) -> Path:
        """The root that signs pebble's certificates (made at each start), as a CA file."""
        pem = httpx.get(f"https://127.0.0.1:{self.management_port}/roots/0", verify=self.trust(), timeout=5).text
        path = self.folder / "roots.pem"
        path.write_text(pem)
        return path

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: str
    cert: x509.Certificate


def https_get(port: int, name: str, path: str, cafile: Path) -> Answer:
    """GET https://NAME:PORT/PATH connected to 127.0.0.1, with NAME as SNI and Host, verified by `cafile`."""
    context = ssl.create_default_context(cafile=str(cafile))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname=name) as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
        der = tls.getpeercert(binary_form=True)
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
        version = tls.version()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert der is not None and version in ("TLSv1.2", "TLSv1.3")
    return Answer(int(lines[0].split()[1]), headers, body.decode(errors="replace"), x509.load_der_x509_certificate(der))

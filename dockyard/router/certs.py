"""The edge's certificates: read, checked against their key, made self-signed, kept on disk.

$DOCKYARD_HOME/edge/certs/ (0700): one folder per environment (APP_ENV/, for acme and
self-signed: one certificate naming all its names) and installed/NAME/ for the ones an operator
brought (`dockyard edge cert add`). Each new pair goes into a version folder of its own
(fullchain.pem and privkey.pem, 0600) and the edge is pointed at it once both are written: the pair
it serves is never overwritten, so a failed renewal leaves it serving. The two newest versions stay.
"""

from __future__ import annotations

import datetime
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dockyard import settings
from dockyard.errors import DockyardError

CERT, KEY = "fullchain.pem", "privkey.pem"


class CertificateError(DockyardError):
    """A certificate that cannot be used: unreadable, not matching its key, not for its names."""


@dataclass(frozen=True)
class CertInfo:
    names: tuple[str, ...]  # DNS names of its subjectAltName
    not_before: float
    not_after: float
    issuer: str

    def covers(self, names: list[str]) -> bool:
        return set(names) <= set(self.names)


def read_info(cert_pem: bytes) -> CertInfo:
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise CertificateError(f"not a PEM certificate: {exc}") from exc
    try:
        names = tuple(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
                      .value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        names = ()
    return CertInfo(names, cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp(),
                    cert.issuer.rfc4514_string())


def check_pair(cert_pem: bytes, key_pem: bytes) -> CertInfo:
    """The certificate's facts, once its public key is the key's own."""
    info = read_info(cert_pem)
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"not an unencrypted PEM private key: {exc}") from exc
    public = x509.load_pem_x509_certificate(cert_pem).public_key()
    raw = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(serialization.Encoding.DER, raw) != public.public_bytes(
            serialization.Encoding.DER, raw):
        raise CertificateError("the certificate does not match its key (another key's certificate)")
    return info


def new_key() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def self_signed(names: list[str], key_pem: bytes, days: int = 365) -> bytes:
    """A certificate for `names` signed by its own key (internal names a public CA will not sign)."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError("a self-signed certificate is made with an EC key (new_key)")
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


class CertStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, key: str) -> Path:
        return self.root / key

    def installed(self, name: str) -> Path:
        return self.root / "installed" / name

    def latest(self, folder: Path) -> tuple[Path, Path] | None:
        """(certificate, key) of the newest complete version in `folder`."""
        versions = sorted((p for p in folder.glob("v*") if (p / CERT).exists() and (p / KEY).exists()),
                          key=lambda p: int(p.name[1:]) if p.name[1:].isdigit() else -1)
        return (versions[-1] / CERT, versions[-1] / KEY) if versions else None

    def info(self, folder: Path) -> CertInfo | None:
        found = self.latest(folder)
        if found is None:
            return None
        try:
            return read_info(found[0].read_bytes())
        except (OSError, CertificateError):
            return None

    def put(self, folder: Path, cert_pem: bytes, key_pem: bytes) -> tuple[Path, Path]:
        """Check the pair, keep it as a new version (0600); its (certificate, key) paths."""
        check_pair(cert_pem, key_pem)
        for part in (self.root, folder.parent, folder):
            settings.private_dir(part)
        version = folder / f"v{time.time_ns()}"
        version.mkdir(mode=0o700)
        settings.replace_private(version / KEY, key_pem)
        settings.replace_private(version / CERT, cert_pem)
        for old in sorted((p for p in folder.glob("v*") if p.name[1:].isdigit()), key=lambda p: int(p.name[1:]))[:-2]:
            shutil.rmtree(old, ignore_errors=True)
        return version / CERT, version / KEY



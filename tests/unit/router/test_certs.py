"""The edge's certificate store: pairs checked, versions kept 0600, the served one never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from dockyard.router.certs import CertificateError, CertStore, check_pair, new_key, read_info, self_signed


def test_a_self_signed_certificate_names_its_names_and_matches_its_key() -> None:
    key = new_key()
    cert = self_signed(["shop.internal", "www.shop.internal"], key, days=10)
    info = check_pair(cert, key)
    assert info.names == ("shop.internal", "www.shop.internal")
    assert info.covers(["www.shop.internal"]) and not info.covers(["other.internal"])
    assert 9 * 86400 < info.not_after - info.not_before < 11 * 86400


def test_a_certificate_with_another_key_or_no_certificate_at_all_is_refused() -> None:
    cert = self_signed(["a.internal"], new_key())
    with pytest.raises(CertificateError, match="does not match its key"):
        check_pair(cert, new_key())
    with pytest.raises(CertificateError, match="not a PEM certificate"):
        read_info(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(CertificateError, match="not an unencrypted PEM private key"):
        check_pair(cert, b"not a key")


def test_each_pair_is_a_new_private_version_and_the_two_newest_stay(tmp_path: Path) -> None:
    store = CertStore(tmp_path / "certs")
    folder = store.folder("shop_production")
    made = []
    for _ in range(3):
        key = new_key()
        made.append(store.put(folder, self_signed(["shop.internal"], key), key))
    assert store.latest(folder) == made[-1]
    assert sorted(cert.parent for cert, _ in made[1:]) == sorted(folder.iterdir())  # the oldest is gone
    for path in (*made[-1], folder, store.root):
        assert stat.S_IMODE(path.stat().st_mode) in (0o600, 0o700), path
    with pytest.raises(CertificateError):
        store.put(folder, self_signed(["x.internal"], new_key()), new_key())
    assert store.latest(folder) == made[-1]  # a bad pair never becomes the latest

from __future__ import annotations

from dockyard.plan.release import config_fingerprint, release_id, replica_config_hash


def test_release_id_is_content_derived():
    fp = config_fingerprint({"A": "1"}, {"/etc/a": b"x"})
    assert fp == config_fingerprint({"A": "1"}, {"/etc/a": b"x"})
    assert fp != config_fingerprint({"A": "2"}, {"/etc/a": b"x"})
    assert fp != config_fingerprint({"A": "1"}, {"/etc/a": b"y"})
    assert release_id("sha256:0123456789abcdef", fp) == f"0123456789-{fp[:6]}"


def test_replica_hash_changes_with_service_settings():
    a = replica_config_hash("r1", {"port": 80})
    assert a == replica_config_hash("r1", {"port": 80})
    assert a != replica_config_hash("r1", {"port": 81})
    assert a != replica_config_hash("r2", {"port": 80})

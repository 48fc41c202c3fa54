"""Bad input through the real CLI: a clear message naming what and where, a non-zero exit, no
traceback, and nothing half-applied."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.apps import TestApp
from tests.conftest import run_cli
from tests.ports import free_port

pytestmark = pytest.mark.integration


def assert_clear_failure(result: subprocess.CompletedProcess[str], *expected: str, code: int | None = None) -> None:
    assert result.returncode != 0
    if code is not None:
        assert result.returncode == code
    assert "Traceback" not in result.stderr + result.stdout
    for text in expected:
        assert text in result.stderr, result.stderr


def test_init_writes_a_spec_that_parses_and_refuses_to_overwrite(tmp_path: Path, dockyard_env: Path) -> None:
    assert run_cli("init", "--app", "shop-api", cwd=tmp_path).returncode == 0
    assert "app: shop-api" in (tmp_path / "dockyard.yml").read_text()
    assert run_cli("deploy", "no-such-env", "--dry-run", cwd=tmp_path).returncode != 0
    assert_clear_failure(run_cli("init", cwd=tmp_path), "exists; use --force")


@pytest.mark.parametrize(("text", "expected"), [
    ("app: a\nservices: {web: {port: 1}\n", "dockyard.yml:3:1: invalid YAML"),
    ("app: shop\nservices: {web: {port: 8080, replicas: -1}}\nenvironments: {dev: {}}\n",
     "dockyard.yml:2: services.web.replicas: must be >= 0, got -1"),
    ("app: shop\nservices: {web: {port: 8080, helth: {path: /h}}}\nenvironments: {dev: {}}\n",
     "services.web.helth: unknown key; did you mean 'health'?"),
    ("app: shop\nservices: {web: {port: eighty}}\nenvironments: {dev: {}}\n", "dockyard.yml:2: services.web.port"),
])
def test_invalid_spec_names_file_line_and_key(tmp_path: Path, dockyard_env: Path, text: str, expected: str) -> None:
    (tmp_path / "dockyard.yml").write_text(text)
    assert_clear_failure(run_cli("deploy", "dev", cwd=tmp_path), expected, code=2)


def test_unknown_environment_and_unreachable_engine(test_app: TestApp) -> None:
    assert_clear_failure(run_cli("deploy", "prod"), "prod")
    test_app.write("dockyard.yml", test_app.spec_file.read_text() + "  far: {engine: nowhere, registry: remote}\n")
    run_cli("config", "set", "far", "GREETING=x")
    assert_clear_failure(run_cli("deploy", "far", "--image", "x:y"), "engine 'nowhere' is not registered")
    assert run_cli("engine", "add", "nowhere", "--host", "tcp://127.0.0.1:1").returncode == 0
    assert_clear_failure(run_cli("deploy", "far", "--image", "x:y"),
                         "engine 'nowhere' at tcp://127.0.0.1:1 is not reachable")


def test_unreachable_etcd_is_a_clear_error(test_app: TestApp) -> None:
    env = {"DOCKYARD_CONFIG_STORE": "etcd://127.0.0.1:1"}
    assert_clear_failure(run_cli("config", "set", "testing", "A=1", env=env), "127.0.0.1:1")
    assert_clear_failure(run_cli("deploy", "testing", "--image", "x:y", env=env), "127.0.0.1:1")


@pytest.fixture
def read_only_registry(tmp_path: Path) -> Iterator[str]:
    """A real registry that refuses every push (maintenance read-only mode)."""
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem: {{rootdirectory: {tmp_path / 'data'}}}\n"
                      f"  maintenance: {{readonly: {{enabled: true}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n")
    proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "read-only registry did not start"
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_registry_refusing_a_push(test_app: TestApp, read_only_registry: str) -> None:
    spec = test_app.spec_file.read_text().replace("remote: 127.0.0.1:5001", f"remote: {read_only_registry}")
    test_app.write("dockyard.yml", spec)
    test_app.commit("a registry that refuses pushes")
    assert_clear_failure(run_cli("build"), f"registry {read_only_registry} refused")
    # Nothing was recorded as pushed there, so a deploy from it fails before touching anything.
    run_cli("config", "set", "staging", "GREETING=x")
    assert_clear_failure(run_cli("deploy", "staging"), f"has not been built and pushed to {read_only_registry}")
    assert run_cli("ps", "staging", "--json").stdout.strip() == "[]"

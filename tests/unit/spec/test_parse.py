from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import NotFound
from dockyard.spec import AppSpec, load_spec, parse_spec


@pytest.fixture
def spec(full_text: str) -> AppSpec:
    return parse_spec(full_text)


def test_top_level_values(spec: AppSpec) -> None:
    assert spec.app == "shop-api"
    assert spec.build.context == "."
    assert spec.build.dockerfile == "Dockerfile"
    assert spec.build.args == {"VERSION": "1.2"}
    assert spec.registries == {"local": "127.0.0.1:5000", "remote": "127.0.0.1:5001/team"}
    assert spec.base_dir == Path.cwd()


def test_service_values(spec: AppSpec) -> None:
    web = spec.services["web"]
    assert web.name == "web"
    assert web.command == ["httpd", "-f", "-p", "8080"]
    assert web.port == 8080
    assert web.health is not None
    assert (web.health.path, web.health.interval, web.health.timeout) == ("/health", 0.5, 2.0)
    assert (web.health.retries, web.health.start_period) == (3, 30.0)
    assert web.replicas == 2
    assert web.resources.cpus == 0.5
    assert web.resources.memory == 128 * 1024 * 1024
    assert web.user == "65534:65534"
    assert web.env == {"LOG_LEVEL": "info", "WORKERS": "4", "DEBUG": "false"}


def test_service_defaults_and_string_command(spec: AppSpec) -> None:
    worker = spec.services["worker"]
    assert worker.command == ["sh", "-c", "sleep 1d"]
    assert worker.port is None and worker.health is None and worker.user is None
    assert worker.replicas == 1
    assert worker.resources.cpus is None and worker.resources.memory is None


def test_config_and_tests(spec: AppSpec) -> None:
    assert spec.config.required == ["DB_HOST", "DB_PASSWORD"]
    assert spec.config.files == {"/etc/app/app.conf": "deploy/app.conf.j2"}
    assert spec.config.secrets == "env"
    assert spec.template_files() == {"/etc/app/app.conf": Path.cwd() / "deploy/app.conf.j2"}
    unit, smoke, lint = spec.tests["unit"], spec.tests["smoke"], spec.tests["lint"]
    assert (unit.run, unit.timeout, unit.kind) == (["sh", "/app/test.sh"], 60.0, "image")
    assert (smoke.run, smoke.timeout, smoke.kind) == (
        ["sh", "-c", "wget -qO- $TARGET_URL/health"],
        120.0,
        "endpoint",
    )
    assert lint.kind == "image"


def test_environments_in_file_order(spec: AppSpec) -> None:
    assert spec.env_names() == ["testing", "staging", "production"]
    assert spec.next_env("testing") == "staging"
    assert spec.next_env("staging") == "production"
    assert spec.next_env("production") is None


def test_environment_values(spec: AppSpec) -> None:
    testing, staging, prod = (spec.environment(n) for n in ("testing", "staging", "production"))
    assert (testing.name, testing.engine, testing.registry, testing.strategy) == (
        "testing",
        "local",
        "local",
        "rolling",
    )
    assert (testing.tests, testing.promote, testing.router) == (["unit", "smoke"], "auto", None)
    assert (staging.registry, staging.strategy, staging.promote) == ("remote", "blue-green", "manual")
    assert prod.registry == "local"  # default: the first registry
    assert prod.router is not None and (prod.router.live, prod.router.preview) == (8000, 8001)
    scaling = prod.scaling["web"]
    assert (scaling.min, scaling.max, scaling.cpu_target, scaling.memory_target) == (2, 10, 60.0, None)


def test_replicas_for(spec: AppSpec) -> None:
    assert spec.replicas_for("testing", "web") == 2  # service default
    assert spec.replicas_for("production", "web") == 3  # override
    assert spec.replicas_for("production", "worker") == 0


def test_replicas_for_stays_in_scaling_range() -> None:
    spec = parse_spec(
        "app: a\nservices: {web: {replicas: 1}}\n"
        "environments: {prod: {scaling: {web: {min: 2, max: 4, memory_target: 70}}}}\n"
    )
    assert spec.replicas_for("prod", "web") == 2


def test_unknown_environment_lists_the_valid_names(spec: AppSpec) -> None:
    with pytest.raises(NotFound) as caught:
        spec.environment("prod")
    assert (
        caught.value.message
        == "no environment 'prod' in dockyard.yml (defined: testing, staging, production)"
    )
    assert caught.value.hint == "did you mean 'production'?"


def test_minimal_spec_gets_defaults() -> None:
    spec = parse_spec("app: a\nservices:\n  web:\nenvironments:\n  dev:\n")
    env = spec.environment("dev")
    assert (env.engine, env.registry, env.strategy, env.promote) == ("local", None, "rolling", "auto")
    assert (env.tests, env.scaling, env.replicas) == ([], {}, {})
    assert spec.build.context == "." and spec.registries == {} and spec.tests == {}
    assert spec.config.secrets == "file"


def test_extension_keys_are_ignored() -> None:
    text = "x-web: &web {port: 80}\napp: a\nservices:\n  web:\n    <<: *web\nenvironments: {dev: {}}\n"
    assert parse_spec(text).services["web"].port == 80


def test_load_spec_sets_base_dir(tmp_path: Path, full_text: str) -> None:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "app.conf.j2").write_text("x")
    (tmp_path / "dockyard.yml").write_text(full_text)
    spec = load_spec(tmp_path / "dockyard.yml")
    assert spec.base_dir == tmp_path
    assert load_spec(tmp_path).app == "shop-api"  # a directory means its dockyard.yml

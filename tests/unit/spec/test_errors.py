from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import SpecError
from dockyard.spec import load_spec, parse_spec

BASE = "app: shop-api\nservices:\n  web: {port: 8080}\nenvironments:\n  dev: {}\n"


def problems(text: str, filename: str = "dockyard.yml") -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, filename)
    return caught.value.problems


def test_malformed_yaml_names_line_and_column() -> None:
    assert problems("app: a\nservices: {web: {port: 1}\n") == [
        (
            "dockyard.yml:3:1: invalid YAML: expected ',' or '}', but got '<stream end>'"
            " (while parsing a flow mapping started at line 2)"
        )
    ]


def test_tab_indent_gets_a_hint() -> None:
    assert problems("app: a\nservices:\n\tweb: {}\n") == [
        (
            "dockyard.yml:3:1: invalid YAML: found character '\\t' that cannot start any token"
            " (indent with spaces, not tabs)"
        )
    ]


def test_wrong_type() -> None:
    text = BASE.replace("{port: 8080}", "{port: 8080, health: /health}")
    assert problems(text) == [
        (
            "dockyard.yml:3: services.web.health: must be a mapping with keys path, command, interval,"
            " timeout, retries, start_period, got '/health'"
        )
    ]


def test_negative_replicas() -> None:
    text = "app: a\nservices:\n  web:\n    replicas: -1\nenvironments: {dev: {}}\n"
    assert problems(text) == ["dockyard.yml:4: services.web.replicas: must be >= 0, got -1"]


def test_unknown_key_suggests_the_nearest() -> None:
    text = "app: a\nservices:\n  web:\n    port: 80\n    helth: {path: /x}\nenvironments: {dev: {}}\n"
    assert problems(text) == ["dockyard.yml:5: services.web.helth: unknown key; did you mean 'health'?"]


def test_unknown_key_far_from_any_lists_the_allowed() -> None:
    assert problems(BASE + "colour: blue\n") == [
        "dockyard.yml:6: colour: unknown key; allowed keys: app, build, registries, services, accessories, config, "
        "tests, release, hooks, jobs, pipeline, alerts, previews, environments"
    ]


def test_missing_required_key_is_on_the_parent_line() -> None:
    text = "app: a\nservices:\n  web:\n    port: 80\nenvironments:\n  dev:\n    router: {preview: 8001}\n"
    assert problems(text) == [
        "dockyard.yml:7: environments.dev.router.live: required key is missing: the host port that serves the "
        "live color, e.g. 8000"
    ]


def test_missing_top_level_key() -> None:
    assert problems("# my app\napp: a\nservices: {web: {}}\n") == [
        (
            "dockyard.yml:2: environments: required key is missing:"
            " define at least one environment; their order is the promotion path"
        )
    ]


def test_unknown_registry() -> None:
    text = "app: a\nregistries: {local: 127.0.0.1:5000, remote: 127.0.0.1:5001}\nservices: {web: {}}\n"
    text += "environments:\n  dev:\n    registry: lcoal\n  prod:\n    registry: hub\n"
    assert problems(text) == [
        (
            "dockyard.yml:6: environments.dev.registry: unknown registry 'lcoal' (defined: local, remote);"
            " did you mean 'local'?"
        ),
        "dockyard.yml:8: environments.prod.registry: unknown registry 'hub' (defined: local, remote)",
    ]


def test_unknown_test() -> None:
    text = "app: a\nservices: {web: {}}\ntests: {unit: {run: [true]}, smoke: {run: 'true'}}\n"
    text += "environments:\n  dev:\n    tests:\n      - unit\n      - smok\n"
    assert problems(text) == [
        "dockyard.yml:8: environments.dev.tests[1]: unknown test 'smok' (defined: unit, smoke); did you mean 'smoke'?"
    ]


def test_unknown_services_in_scaling_and_replicas() -> None:
    text = BASE.replace(
        "dev: {}", "dev: {replicas: {wbe: 2}, scaling: {db: {min: 1, max: 2, cpu_target: 50}}}"
    )
    assert problems(text) == [
        "dockyard.yml:5: environments.dev.scaling.db: unknown service 'db' (defined: web)",
        "dockyard.yml:5: environments.dev.replicas.wbe: unknown service 'wbe' (defined: web); did you mean 'web'?",
    ]


def test_blue_green_needs_a_router() -> None:
    assert problems(BASE.replace("dev: {}", "dev: {strategy: blue-green}")) == [
        "dockyard.yml:5: environments.dev.strategy: blue-green needs a router: {live: PORT, preview: PORT}"
    ]


def test_router_and_scaling_ranges() -> None:
    text = BASE.replace(
        "dev: {}",
        "dev:\n    strategy: blue-green\n    router: {live: 8000, preview: 8000}\n"
        "    scaling:\n      web: {min: 3, max: 2, cpu_target: 150}\n",
    )
    assert problems(text) == [
        "dockyard.yml:7: environments.dev.router.preview: must differ from live, both are 8000",
        "dockyard.yml:9: environments.dev.scaling.web.max: must be >= min (3), got 2",
        "dockyard.yml:9: environments.dev.scaling.web.cpu_target: must be a percentage between 1 and 100, got 150",
    ]


def test_several_problems_at_once_in_line_order() -> None:
    text = (
        "app: Shop\n"  # 1
        "registries: {local: 127.0.0.1:5000}\n"  # 2
        "services:\n"  # 3
        "  web:\n"  # 4
        "    port: 70000\n"  # 5
        "    resources: {memory: lots}\n"  # 6
        "environments:\n"  # 7
        "  dev: {registry: remote, strategy: shadow}\n"  # 8
        "  prod: {promote: later}\n"  # 9
    )
    assert problems(text, "examples/shop/dockyard.yml") == [
        (
            "examples/shop/dockyard.yml:1: app: invalid app name 'Shop': use lowercase letters, digits and '-',"
            " starting with a letter, at most 41 characters"
        ),
        "examples/shop/dockyard.yml:5: services.web.port: must be a port between 1 and 65535, got 70000",
        (
            "examples/shop/dockyard.yml:6: services.web.resources.memory: must be a size like 512k, 128m, 1g"
            " or a number of bytes, got 'lots'"
        ),
        (
            "examples/shop/dockyard.yml:8: environments.dev.strategy: must be 'rolling', 'recreate', 'blue-green' or"
            " 'canary', got 'shadow'"
        ),
        "examples/shop/dockyard.yml:8: environments.dev.registry: unknown registry 'remote' (defined: local)",
        "examples/shop/dockyard.yml:9: environments.prod.promote: must be 'auto' or 'manual', got 'later'",
    ]


def test_empty_and_non_mapping_files() -> None:
    assert problems("# nothing yet\n") == [
        "dockyard.yml:1: the file is empty; 'dockyard init' writes a starter"
    ]
    assert problems("- app\n") == [
        "dockyard.yml:1: must be a mapping with app, services and environments, got a list"
    ]


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "dockyard.yml"
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert caught.value.problems == [f"{path}: file not found; create one with 'dockyard init'"]


def test_missing_template_file(tmp_path: Path) -> None:
    text = (
        BASE + "config:\n  files:\n    /etc/app/app.conf: deploy/app.conf.j2\n    /etc/app/ok.conf: ok.j2\n"
    )
    (tmp_path / "ok.j2").write_text("ok")
    (tmp_path / "dockyard.yml").write_text(text)
    with pytest.raises(SpecError) as caught:
        load_spec(tmp_path / "dockyard.yml")
    assert caught.value.problems == [
        (
            f"{tmp_path}/dockyard.yml:8: config.files['/etc/app/app.conf']: template file 'deploy/app.conf.j2'"
            f" not found (looked in {tmp_path})"
        )
    ]


def test_parse_spec_does_not_read_templates() -> None:
    text = BASE + "config:\n  files: {/etc/app/app.conf: deploy/missing.j2}\n"
    assert parse_spec(text).config.files == {"/etc/app/app.conf": "deploy/missing.j2"}


def test_pipeline_branch_naming_an_unknown_environment() -> None:
    text = BASE + "pipeline: {branches: {main: [], 'feature/*': [stagin]}}\n"
    assert any("pipeline.branches['feature/*'][0]: unknown environment 'stagin'" in p for p in problems(text))


def test_alarm_mistakes() -> None:
    text = BASE.replace(
        "dev: {}",
        "dev:\n    scaling:\n      web:\n        min: 1\n        max: 3\n        alarms:\n"
        "          - {metric: cpu, comparison: above, threshold: 70, evaluation_periods: 2,"
        " datapoints_to_alarm: 3, steps: [{change: 1}]}\n"  # 11
        "          - {metric: cpu, comparison: below, threshold: 10, missing_data: breaching,"
        " steps: [{change: -1}]}\n"  # 12
        "          - {metric: cpu, comparison: above, threshold: 70, steps: [{change: 1}, {change: -1}]}\n"  # 13
        "          - {metric: cpu, comparison: above, threshold: 70, steps: [{change: 1, upper: 30},"
        " {lower: 20, change: 2}]}\n"  # 14
        "          - {metric: disk, comparison: above, threshold: 70, steps: [{change: 0}]}\n",  # 15
    )
    assert problems(text) == [
        "dockyard.yml:11: environments.dev.scaling.web.alarms[0]: datapoints_to_alarm (3) must be <= "
        "evaluation_periods (2)",
        "dockyard.yml:12: environments.dev.scaling.web.alarms[1]: missing_data: breaching on an alarm that "
        "removes replicas would scale in on missing metrics; use missing, ignore or not-breaching",
        "dockyard.yml:13: environments.dev.scaling.web.alarms[2]: steps must all add or all remove replicas; "
        "use one alarm for each direction",
        "dockyard.yml:14: environments.dev.scaling.web.alarms[3]: steps overlap: 0..30 and 20..",
        "dockyard.yml:15: environments.dev.scaling.web.alarms[4].metric: must be 'cpu', 'memory' or 'requests', "
        "got 'disk'",
        "dockyard.yml:15: environments.dev.scaling.web.alarms[4].steps[0].change: must add (> 0) or remove (< 0) "
        "replicas, got 0",
    ]


def test_targets_and_alarms_exclude_each_other() -> None:
    text = BASE.replace(
        "dev: {}", "dev: {scaling: {web: {min: 1, max: 2, cpu_target: 50, alarms: [{metric: cpu, comparison: above,"
                   " threshold: 70, steps: [{change: 1}]}]}}}")
    assert problems(text) == [
        "dockyard.yml:5: environments.dev.scaling.web: scales either by targets (cpu_target, memory_target, "
        "requests_target) or by alarms, not both"]


def test_a_health_check_from_outside_needs_a_port_and_a_command_does_not() -> None:
    text = BASE.replace("{port: 8080}", "{port: 8080}\n  worker: {health: {path: /up}}")
    assert problems(text) == [
        "dockyard.yml:4: services.worker.health: needs 'port' on the service: the check is an HTTP GET or a TCP "
        "connect on that port; a service without one checks with command: [...]"]
    spec = parse_spec(BASE.replace("{port: 8080}", "{port: 8080}\n  worker: {health: {command: [test, -f, /a]}}"))
    health = spec.services["worker"].health
    assert health is not None and health.command == ["test", "-f", "/a"]


def test_a_health_check_is_a_path_or_a_command_not_both() -> None:
    text = BASE.replace("{port: 8080}", "{port: 8080, health: {path: /up, command: [true]}}")
    assert problems(text) == ["dockyard.yml:3: services.web.health: give path: (an HTTP GET from outside) or "
                              "command: (run inside), not both"]

"""strategy: canary in dockyard.yml (issue 32): its steps, who sees the canary, the analysis'
thresholds; each mistake reported with file:line."""

from __future__ import annotations

import pytest

from dockyard.errors import SpecError
from dockyard.spec import parse_spec

HEAD = """\
app: shop
services:
  web: {port: 8080}
environments:
  prod:
    strategy: canary
    domains: [shop.test]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "dockyard.yml")
    return caught.value.problems


def test_a_canary_parses_with_its_defaults() -> None:
    spec = parse_spec(HEAD + "    canary:\n      steps: [{weight: 0, pause: 10m}, {weight: 5, pause: 2m}, "
                             "{weight: 50, pause: 90s}]\n      match: {header: X-Canary}\n")
    canary = spec.environment("prod").canary
    assert canary is not None
    assert [(s.weight, s.pause) for s in canary.steps] == [(0, 600.0), (5, 120.0), (50, 90.0)]
    assert canary.sticky and canary.match is not None and canary.match.header == "X-Canary"
    rules = canary.analysis
    assert (rules.max_5xx_ratio, rules.min_requests, rules.inconclusive, rules.max_latency_ratio) == \
        (0.01, 20, "wait", None)


def test_bad_steps_thresholds_and_names_say_where() -> None:
    found = problems(HEAD + """\
    canary:
      steps: [{weight: 5, pause: 2m}, {weight: 5, pause: 1m}]
      match: {header: "X Canary", cookie: "a;b"}
      analysis: {max_5xx_ratio: "1%", max_latency_ratio: true, min_requests: 0}
""")
    assert found == [
        "dockyard.yml:9: environments.prod.canary.steps: weights must rise from step to step: 5 then 5",
        "dockyard.yml:10: environments.prod.canary.match.header: must be a header name (letters, digits and '-'), "
        "got 'X Canary'",
        "dockyard.yml:10: environments.prod.canary.match.cookie: must be a cookie name (letters, digits, '-' and "
        "'_'), got 'a;b'",
        "dockyard.yml:11: environments.prod.canary.analysis.max_5xx_ratio: must be a number, got '1%'",
        "dockyard.yml:11: environments.prod.canary.analysis.max_latency_ratio: must be a number, got true",
        "dockyard.yml:11: environments.prod.canary.analysis.min_requests: must be >= 1, got 0",
    ]
    over = problems(HEAD + "    canary:\n      steps: [{weight: 50, pause: 1m}, {weight: 150, pause: 1m}, "
                           "{weight: 90}]\n")
    assert over == [
        "dockyard.yml:9: environments.prod.canary.steps[1].weight: must be from 0 to 100 (a percentage of the "
        "requests), got 150",
        "dockyard.yml:9: environments.prod.canary.steps[2].pause: required key is missing: how long it stays at "
        "this weight, judged meanwhile, e.g. 2m",
    ]


def test_a_canary_needs_its_strategy_its_steps_and_names_at_the_edge() -> None:
    assert problems("app: shop\nservices:\n  web: {port: 8080}\nenvironments:\n  prod:\n    strategy: canary\n"
                    "  dev:\n    canary: {steps: [{weight: 5, pause: 1m}]}\n") == [
        "dockyard.yml:6: environments.prod.strategy: canary needs its steps: canary: {steps: [{weight: 10, pause: "
        "2m}, ...]}",
        "dockyard.yml:8: environments.dev.canary: is for strategy: canary",
    ]
    assert problems("app: shop\nservices:\n  web: {port: 8080}\nenvironments:\n  prod:\n    strategy: canary\n"
                    "    canary: {steps: [{weight: 5, pause: 1m}]}\n") == [
        "dockyard.yml:6: environments.prod.strategy: canary splits requests at the host's edge: it needs domains:"]


def test_queries_of_prometheus_say_what_is_wrong_where() -> None:
    found = problems(HEAD + """\
    canary:
      steps: [{weight: 5, pause: 1m}]
      analysis:
        queries:
          - {name: errors, query: 'sum(rate(app_errors_total{release="{release}"}[{window}]))', max_ratio: 1.5}
          - {name: Bad Name, query: "", max: "x"}
          - {name: nolimit, query: up}
  other:
    domains: [other.test]
    watch: {for: 5m, queries: [{name: q, query: up, max: 1}]}
""")
    assert found == [
        "dockyard.yml:13: environments.prod.canary.analysis.queries[1].name: invalid query name 'Bad Name': use "
        "lowercase letters, digits and '-', starting with a letter, at most 31 characters",
        "dockyard.yml:13: environments.prod.canary.analysis.queries[1].query: String should have at least 1 "
        "character, got ''",
        "dockyard.yml:13: environments.prod.canary.analysis.queries[1].max: must be a number, got 'x'",
        "dockyard.yml:14: environments.prod.canary.analysis.queries[2]: needs max: (the canary's number) or "
        "max_ratio: (over the stable's), or both",
        "dockyard.yml:17: environments.other.watch.queries: Prometheus queries judge a canary's steps (canary: "
        "analysis:), not a watch",
    ]

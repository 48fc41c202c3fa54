"""previews: in dockyard.yml (issue 33): a pull request's preview pr-N is the `from` environment under
its own name, without what only a stable environment has; each mistake reported with file:line."""

from __future__ import annotations

import pytest

from dockyard.errors import NotFound, SpecError
from dockyard.spec import parse_spec
from dockyard.spec.bounds import changed_bounds
from dockyard.spec.brief import EnvBrief, SpecBrief, brief_of
from dockyard.vocabulary import preview_name, preview_number

SPEC = """\
app: shop
services:
  web: {port: 8080}
accessories:
  db: {image: "dockyard/pg:15", port: 5432}
tests:
  unit: {run: [sh, /app/test.sh]}
  smoke: {run: "wget -qO- $TARGET_URL/health"}
environments:
  staging:
    engine: tls-host
    strategy: blue-green
    router: {live: 8000, preview: 8001}
    tests: [unit, smoke]
    domains: [staging.shop.test]
    redirects: {www.staging.shop.test: staging.shop.test}
    scaling: {web: {min: 1, max: 4, cpu_target: 60}}
    accessories: [db]
  production: {engine: swarm, domains: [shop.test]}
previews:
  from: staging
  domain: "pr-{number}.preview.test"
  ttl: 2d
  max: 3
"""


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "dockyard.yml")
    return caught.value.problems


def test_a_preview_is_its_from_environment_under_its_own_name() -> None:
    spec = parse_spec(SPEC, "dockyard.yml")
    previews = spec.previews
    assert previews is not None
    assert (previews.source, previews.domain, previews.ttl, previews.max, previews.data, previews.config) == \
        ("staging", "pr-{number}.preview.test", 172800.0, 3, "empty", {})
    env = spec.environment("pr-7")
    assert env.name == "pr-7"
    assert env.strategy == "rolling"  # blue-green's balancer pair has fixed host ports: a preview has none
    assert env.router is None
    assert env.domains == ["pr-7.preview.test"]
    assert env.redirects == {}
    assert env.scaling == {}
    assert (env.canary, env.watch) == (None, None)
    assert env.promote == "manual"
    assert (env.engine, env.accessories, env.tests) == ("tls-host", ["db"], ["unit", "smoke"])
    assert spec.accessories_of("pr-7") == {"db": spec.accessories["db"]}
    assert spec.environment("pr-7") is env  # made once per number
    assert spec.environment("pr-12").domains == ["pr-12.preview.test"]
    # the environment it copies is left as it is
    staging = spec.environment("staging")
    assert (staging.strategy, staging.domains, staging.router is not None, list(staging.scaling)) == \
        ("blue-green", ["staging.shop.test"], True, ["web"])
    assert spec.env_names() == ["staging", "production"]  # a preview is no step of the promotion path
    # its fields are written under previews:
    assert spec.where("environments", "pr-7", "engine") == "dockyard.yml:20"


@pytest.mark.parametrize(("strategy", "kept"), [
    ("strategy: rolling\n", "rolling"),
    ("strategy: recreate\n", "recreate"),
    ("strategy: canary\n    canary: {steps: [{weight: 10, pause: 1m}]}\n", "rolling"),  # no stable to compare
])
def test_an_in_place_source_keeps_its_strategy(strategy: str, kept: str) -> None:
    text = SPEC.replace("strategy: blue-green\n    router: {live: 8000, preview: 8001}\n", strategy)
    spec = parse_spec(text, "dockyard.yml")
    assert (spec.environment("pr-7").strategy, spec.environment("pr-7").canary) == (kept, None)


def test_is_preview_and_the_names_of_previews() -> None:
    spec = parse_spec(SPEC, "dockyard.yml")
    assert [spec.is_preview(n) for n in ("pr-7", "pr-123456789", "staging", "pr-07", "pr-0", "pr-x", "pr-", "pr7")] \
        == [True, True, False, False, False, False, False, False]
    assert (preview_name(7), preview_number("pr-7"), preview_number("pr-1234567890")) == ("pr-7", 7, None)
    with pytest.raises(NotFound, match="'pr-07'"):
        spec.environment("pr-07")
    without = parse_spec(SPEC.split("previews:")[0], "dockyard.yml")
    assert without.previews is None and not without.is_preview("pr-7")
    with pytest.raises(NotFound, match="'pr-7'"):
        without.environment("pr-7")


def test_ttl_takes_a_duration() -> None:
    spec = parse_spec(SPEC.replace("ttl: 2d", "ttl: 3d"), "dockyard.yml")
    assert spec.previews is not None and spec.previews.ttl == 259200.0
    default = parse_spec(SPEC.replace("  ttl: 2d\n", ""), "dockyard.yml")
    assert default.previews is not None and (default.previews.ttl, default.previews.max) == (259200.0, 3)


def test_the_domain_template_is_lowercased_and_a_trailing_dot_dropped() -> None:
    spec = parse_spec(SPEC.replace('"pr-{number}.preview.test"', '"PR-{number}.Preview.test."'), "dockyard.yml")
    assert spec.environment("pr-3").domains == ["pr-3.preview.test"]


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('"pr-{number}.preview.test"', '"pr.preview.test"',
     "dockyard.yml:22: previews.domain: must hold {number} (each pull request its own name), got 'pr.preview.test'"),
    ('"pr-{number}.preview.test"', '"pr-{number}-{x}.preview.test"',
     "dockyard.yml:22: previews.domain: may hold {number} and nothing else in braces, got "
     "'pr-{number}-{x}.preview.test'"),
    ("from: staging", "from: qa",
     "dockyard.yml:21: previews.from: unknown environment 'qa' (defined: staging, production)"),
    ("from: staging", "from: production",
     "dockyard.yml:21: previews.from: production is the last environment of the promotion path (production): a "
     "preview never gets its engine's place, configuration or secrets; copy one before it (staging)"),
    ("  max: 3\n", "  max: 0\n",
     "dockyard.yml:24: previews.max: must be a whole number of 1 or more (how many previews at once), got 0"),
    ("  max: 3\n", "  max: true\n",
     "dockyard.yml:24: previews.max: must be a whole number of 1 or more (how many previews at once), got true"),
    ("ttl: 2d", "ttl: 3x",
     "dockyard.yml:23: previews.ttl: must be a duration like 500ms, 1s, 2m, 1h, 3d or a number of seconds, got "
     "'3x'"),
    ("  production:", "  pr-3: {}\n  production:",
     "dockyard.yml:19: environments.pr-3: pr-3 is a pull request preview's name (pr-N): name the environment "
     "otherwise"),
    ("domains: [shop.test]", "domains: [shop.test, PR-12.preview.test]",
     "dockyard.yml:19: environments.production.domains[1]: PR-12.preview.test is a name previews.domain gives a "
     "preview: a preview never answers under an environment's name"),
    ('"pr-{number}.preview.test"', '"pr-{number}-{number}.preview.test"',
     "dockyard.yml:22: previews.domain: must hold {number} once, got 'pr-{number}-{number}.preview.test'"),
    ("  production: {engine: swarm, domains: [shop.test]}",
     "  production: {engine: swarm, domains: [shop.test], redirects: {pr-5.preview.test: shop.test}}",
     "dockyard.yml:19: environments.production.redirects['pr-5.preview.test']: pr-5.preview.test is a name "
     "previews.domain gives a preview: a preview never answers under an environment's name"),
], ids=["no-placeholder", "other-braces", "from-unknown", "from-last", "max-0", "max-true", "ttl-3x", "env-pr-3",
        "env-domain", "placeholder-twice", "env-redirect"])
def test_each_mistake_says_where(old: str, new: str, expected: str) -> None:
    text = SPEC.replace(old, new)
    assert text != SPEC
    assert problems(text) == [expected]


def test_an_environment_domain_of_another_shape_is_not_a_preview_s() -> None:
    text = SPEC.replace("domains: [shop.test]", "domains: [shop.test, pr-x.preview.test, pr-1.preview.test.x]")
    assert parse_spec(text, "dockyard.yml").environment("production").domains == \
        ["shop.test", "pr-x.preview.test", "pr-1.preview.test.x"]


def test_another_branch_cannot_change_previews() -> None:
    default = parse_spec(SPEC, "dockyard.yml")
    assert changed_bounds(parse_spec(SPEC, "dockyard.yml"), default, "feature") == []
    raised = parse_spec(SPEC.replace("  max: 3\n", "  max: 50\n"), "dockyard.yml")
    shown = "{'from': 'staging', 'domain': 'pr-{number}.preview.test', 'ttl': 172800.0, 'max': %d, 'data': " \
            "'empty', 'config': {}}"
    assert changed_bounds(raised, default, "feature") == [
        f"dockyard.yml:20: previews differs from the default branch ({shown % 3} there, {shown % 50} here): a "
        "commit on branch 'feature' cannot change where the app runs or with which rights"]
    dropped = parse_spec(SPEC.split("previews:")[0], "dockyard.yml")
    [problem] = changed_bounds(dropped, default, "feature")
    assert problem.split(": ", 1)[1].startswith(f"previews differs from the default branch ({shown % 3} there, unset "
                                                "here)")


def test_the_brief_knows_the_preview() -> None:
    brief = brief_of(parse_spec(SPEC, "dockyard.yml"))
    expected = EnvBrief(engine="tls-host", strategy="rolling", promote="manual", tests=["unit", "smoke"],
                        accessories=["db"], colors=False, router=None)
    assert brief.preview == expected
    assert brief.environment("pr-12") == expected
    assert brief.env_names() == ["staging", "production"]
    assert brief.environment("staging").colors and brief.environment("staging").router is not None
    assert SpecBrief.from_json(brief.as_json()) == brief
    assert SpecBrief.from_json(brief.as_json()).environment("pr-12") == expected
    with pytest.raises(NotFound):
        brief.environment("pr-07")
    without = brief_of(parse_spec(SPEC.split("previews:")[0], "dockyard.yml"))
    assert without.preview is None
    assert SpecBrief.from_json(without.as_json()) == without
    with pytest.raises(NotFound):
        without.environment("pr-12")

"""Accessories in dockyard.yml (issue 16): their shape, the environments that run them, and the
`${accessories.NAME.FIELD}` references, each mistake reported with file:line."""

from __future__ import annotations

import pytest

from dockyard.errors import NotFound, SpecError
from dockyard.spec import parse_spec
from dockyard.spec.accessory import substitute_refs

SPEC = """\
app: shop
services:
  web:
    port: 8080
    env: {DB_HOST: "${accessories.db.host}", DB_URL: "redis://${accessories.db.address}/0"}
accessories:
  db:
    image: 127.0.0.1:5000/redis:7
    port: 6379
    volumes: [{name: data, path: /data}]
    health: {cmd: [redis-cli, ping], interval: 1s}
    config: [DB_PASSWORD]
  search:
    build: {context: search}
environments:
  dev: {}
  prod: {accessories: [db]}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "dockyard.yml")
    return caught.value.problems


def test_accessories_parse_and_each_environment_runs_its_own() -> None:
    spec = parse_spec(SPEC)
    db = spec.accessories["db"]
    assert (db.name, db.image, db.port, db.config, db.health and db.health.cmd) == (
        "db", "127.0.0.1:5000/redis:7", 6379, ["DB_PASSWORD"], ["redis-cli", "ping"])
    assert list(spec.accessories_of("dev")) == ["db", "search"]
    assert list(spec.accessories_of("prod")) == ["db"]
    assert db.address() == {"host": "db", "port": "6379", "address": "db:6379"}
    with pytest.raises(NotFound, match="environment 'prod' does not run accessory 'search'"):
        spec.accessory("prod", "search")
    with pytest.raises(NotFound, match="(?s)no accessory 'dbb'.*did you mean 'db'"):
        spec.accessory("dev", "dbb")


def test_an_accessory_named_like_a_service_is_refused_where_it_is() -> None:
    found = problems(SPEC.replace("  search:\n", "  web:\n"))
    assert found == ["dockyard.yml:13: accessories.web: accessory 'web' has the name of a service: both would be "
                     "the host 'web' on the environment's network; rename one"]


def test_image_or_build_exactly_one() -> None:
    [both] = problems(SPEC.replace("    build: {context: search}\n",
                                   "    build: {context: search}\n    image: x/search:1\n"))
    assert both.startswith("dockyard.yml:13: accessories.search:") and "either image:" in both
    [neither] = problems(SPEC.replace("    build: {context: search}\n", "    port: 9200\n"))
    assert "either image:" in neither


def test_an_unknown_accessory_of_an_environment_and_a_reference_to_one_it_does_not_run() -> None:
    assert problems(SPEC.replace("accessories: [db]", "accessories: [dbs]")) == [
        "dockyard.yml:5: services.web.env.DB_HOST: ${accessories.db...}: environment 'prod' runs no accessory 'db' "
        "(it runs: none)",
        "dockyard.yml:5: services.web.env.DB_URL: ${accessories.db...}: environment 'prod' runs no accessory 'db' "
        "(it runs: none)",
        "dockyard.yml:17: environments.prod.accessories[0]: unknown accessory 'dbs' (defined: db, search); did you "
        "mean 'db'?"]
    [ref] = problems(SPEC.replace("${accessories.db.host}", "${accessories.search.host}"))
    assert ref == ("dockyard.yml:5: services.web.env.DB_HOST: ${accessories.search...}: environment 'prod' runs "
                   "no accessory 'search' (it runs: db)")


def test_a_volume_path_that_is_not_absolute() -> None:
    [bad] = problems(SPEC.replace("path: /data", "path: data"))
    assert bad.startswith("dockyard.yml:10: accessories.db.volumes[0].path:") and "absolute" in bad


def test_references_are_replaced_and_wrong_ones_say_what() -> None:
    known = {"db": {"host": "db", "port": "6379", "address": "db:6379"}, "cache": {"host": "cache", "port": "",
                                                                                  "address": "cache"}}
    assert substitute_refs("redis://${accessories.db.address}/0 ${accessories.db.host}", known) == \
        "redis://db:6379/0 db"
    assert substitute_refs("no reference, ${OTHER}", known) == "no reference, ${OTHER}"
    with pytest.raises(ValueError, match=r"no accessory 'dbx' runs in this environment \(its accessories: cache, db\)"):
        substitute_refs("${accessories.dbx.host}", known)
    with pytest.raises(ValueError, match="an accessory has host, port, address"):
        substitute_refs("${accessories.db.user}", known)
    with pytest.raises(ValueError, match="accessory cache sets no port"):
        substitute_refs("${accessories.cache.port}", known)


def test_publish_without_a_port_says_what_is_missing() -> None:
    text = SPEC.replace("    build: {context: search}\n", "    build: {context: search}\n    publish: 19200\n")
    [bad] = problems(text)
    assert bad.startswith("dockyard.yml:13: accessories.search:") and "publish: 19200 needs port:" in bad

"""Sink request formats and rules, against httpx MockTransport (no network)."""

from __future__ import annotations

import httpx
import orjson
import pytest

from dockyard.logs.sinks import Retryable
from dockyard.logs.sinks.elastic import ElasticSink, bulk_body
from dockyard.logs.sinks.loki import LokiSink, push_body
from dockyard.logs.sinks.syslog import format_5424, frame
from dockyard.logs.spool import Batch

TAGS = {"host": "h1", "container": "shop_prod_web_1", "container_id": "a" * 64, "app": "shop", "env": "prod",
        "service": "web", "release": "r7", "image": "img"}


def batches() -> list[Batch]:
    return [Batch("a" * 64, "f1", TAGS, [(0, 1_700_000_000_000_000_001, 0, "one"), (90, 1_700_000_000_000_000_002, 1,
                                                                                   "two")])]


def test_bulk_body_is_ndjson_create_actions_with_line_identity_ids() -> None:
    body, owners = bulk_body(batches(), "logs")
    lines = body.split(b"\n")
    assert body.endswith(b"\n") and len(lines) == 5 and owners == ["a" * 64] * 2
    action, doc = orjson.loads(lines[0]), orjson.loads(lines[1])
    assert list(action) == ["create"] and action["create"]["_index"] == "logs"
    assert doc["message"] == "one" and doc["stream"] == "stdout" and doc["service"] == "web"
    assert doc["@timestamp"] == "2023-11-14T22:13:20.000000Z"
    assert orjson.loads(lines[2])["create"]["_id"] != action["create"]["_id"]


def es(handler) -> ElasticSink:  # type: ignore[no-untyped-def]
    return ElasticSink("http://es", index="logs", transport=httpx.MockTransport(handler))


def test_elastic_retries_429_and_5xx_and_counts_409_as_stored() -> None:
    with pytest.raises(Retryable):
        es(lambda r: httpx.Response(429)).send(batches())
    with pytest.raises(Retryable):
        es(lambda r: httpx.Response(503)).send(batches())
    items = {"errors": True, "items": [{"create": {"status": 409}}, {"create": {"status": 429}}]}
    with pytest.raises(Retryable):
        es(lambda r: httpx.Response(200, json=items)).send(batches())
    ok = {"errors": True, "items": [{"create": {"status": 409}}, {"create": {"status": 201}}]}
    assert es(lambda r: httpx.Response(200, json=ok)).send(batches()).stored == 2


def test_elastic_rejects_a_bad_line_and_keeps_the_rest() -> None:
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["type"] = request.headers["content-type"]
        seen["path"] = request.url.path
        return httpx.Response(200, json={"errors": True, "items": [
            {"create": {"status": 201}},
            {"create": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "bad"}}}]})

    result = es(handler).send(batches())
    assert seen == {"type": "application/x-ndjson", "path": "/_bulk"}
    assert result.stored == 1 and [(r.lines, r.reason) for r in result.rejected] == [
        (1, "400 mapper_parsing_exception: bad")]


def test_loki_push_body_groups_streams_oldest_first_with_ns_strings() -> None:
    body, counts = push_body(batches())
    assert counts == {"a" * 64: 2}
    assert body["streams"] == [
        {"stream": {"host": "h1", "app": "shop", "env": "prod", "service": "web", "container": "shop_prod_web_1",
                    "stream": "stdout"}, "values": [["1700000000000000001", "one"]]},
        {"stream": {"host": "h1", "app": "shop", "env": "prod", "service": "web", "container": "shop_prod_web_1",
                    "stream": "stderr"}, "values": [["1700000000000000002", "two"]]}]


def test_loki_rules() -> None:
    def sink(status: int) -> LokiSink:
        return LokiSink("http://loki", transport=httpx.MockTransport(lambda r: httpx.Response(status, text="x")))

    assert sink(204).send(batches()).stored == 2
    for status in (429, 500, 502):
        with pytest.raises(Retryable):
            sink(status).send(batches())
    assert sum(r.lines for r in sink(400).send(batches()).rejected) == 2


def test_rfc5424_with_structured_data_and_octet_counting() -> None:
    event = {**TAGS, "@timestamp": "2026-01-01T00:00:00.000001Z", "stream": "stderr", "message": 'boom "x"'}
    msg = format_5424(event)
    assert msg == (b'<11>1 2026-01-01T00:00:00.000001Z h1 shop_prod_web_1 aaaaaaaaaaaa stderr [dockyard@32473 '
                   b'app="shop" env="prod" service="web" release="r7" container_id="' + b"a" * 64
                   + b'" stream="stderr"] boom "x"')
    assert frame(b"abc") == b"3 abc"

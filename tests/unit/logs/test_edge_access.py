"""The edge's access log lines -> entries, log lines and per-environment metrics (issue 15)."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, generate_latest

from dockyard.logs.edge_access import Access, parse_access, status_class
from dockyard.logs.edge_metrics import EdgeMetrics
from dockyard.router.edge_render import ACCESS_FORMAT

# what HAProxy puts for each of ACCESS_FORMAT's fields (strings through its json converter)
FIELDS = {"%Ts.%ms": "t", "%[var(txn.app)]": "app", "%[var(txn.env)]": "env", "%[var(txn.host),json(utf8s)]": "host",
          "%HM": "method", "%[capture.req.uri,json(utf8s)]": "uri", "%HV": "proto", "%ST": "status", "%B": "bytes",
          "%Ta": "rt", "%Tr": "ut", "%ci": "addr", "%[capture.req.hdr(0),json(utf8s)]": "ua",
          "%[var(txn.track)]": "track"}


def haproxy_line(**values: str) -> bytes:
    """ACCESS_FORMAT filled in as HAProxy fills it."""
    text = ACCESS_FORMAT.strip("'")
    for field, name in sorted(FIELDS.items(), key=lambda item: -len(item[0])):
        text = text.replace(field, values[name])
    assert "%" not in text, text  # every field of the format is known here
    return text.encode()


DEFAULTS = {"t": "1764452464.123", "app": "shop", "env": "production", "host": "shop.example.com",
            "method": "GET", "uri": "\\/cart?id=1", "proto": "HTTP/1.1", "status": "200", "bytes": "512",
            "rt": "4", "ut": "3", "addr": "203.0.113.9", "ua": 'curl \\"x\\"', "track": "-"}


def test_the_format_haproxy_writes_is_what_the_parser_reads() -> None:
    entry = parse_access(haproxy_line(**DEFAULTS))
    assert entry == Access(1764452464123000000, "shop", "production", 200, 0.003,
                           'GET shop.example.com/cart?id=1 HTTP/1.1 200 512B 4.0ms (upstream 3.0ms) 203.0.113.9 '
                           '"curl "x""')


def test_no_server_and_no_environment() -> None:
    redirect = parse_access(haproxy_line(**(DEFAULTS | {"status": "308", "ut": "-1", "app": "-", "env": "-"})))
    assert redirect is not None and (redirect.app, redirect.env, redirect.upstream_s, redirect.status) == \
        ("", "", None, 308)
    assert "upstream" not in redirect.message


def test_which_release_answered_during_a_canary() -> None:
    for track, read in (("canary", "canary"), ("stable", "stable"), ("-", "")):
        entry = parse_access(haproxy_line(**(DEFAULTS | {"track": track})))
        assert entry is not None and entry.track == read


def test_what_is_not_an_access_line_is_none() -> None:
    for raw in (b"", b"not json", b'{"t": 1}', b'{"t": "x", "status": 200}', b"[1, 2]"):
        assert parse_access(raw) is None, raw


def test_status_classes() -> None:
    assert [status_class(s) for s in (101, 204, 308, 404, 503, 999)] == ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]


def test_metrics_per_environment_exact() -> None:
    metrics = EdgeMetrics("h1")
    entry = Access(0, "shop", "production", 200, 0.003, "")
    metrics.observe([entry, entry, Access(0, "shop", "production", 503, None, ""),
                     Access(0, "shop", "production", 502, 12.0, ""), Access(0, "", "", 404, None, "")])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(metrics)  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    assert 'dockyard_edge_requests_total{app="shop",code="2xx",env="production",host="h1"} 2.0' in text
    assert 'dockyard_edge_requests_total{app="shop",code="5xx",env="production",host="h1"} 2.0' in text
    assert 'app=""' not in text  # what no environment answered is nobody's
    buckets = re.findall(r'dockyard_edge_upstream_seconds_bucket\{app="shop",env="production",host="h1",'
                         r'le="([^"]+)"\} ([0-9.]+)', text)
    assert buckets[:3] == [("0.001", "0.0"), ("0.0025", "0.0"), ("0.005", "2.0")]
    assert buckets[-2:] == [("10.0", "2.0"), ("+Inf", "3.0")]
    assert 'dockyard_edge_upstream_seconds_count{app="shop",env="production",host="h1"} 3.0' in text
    assert 'dockyard_edge_upstream_seconds_sum{app="shop",env="production",host="h1"} 12.006' in text

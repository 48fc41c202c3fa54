"""The edge's access log lines -> entries, log lines and per-environment metrics (issue 15)."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, generate_latest

from dockyard.logs.edge_access import Access, EdgeMetrics, parse_access, status_class, upstream_seconds
from dockyard.router.edge_render import ACCESS_FORMAT


def nginx_line(**values: str) -> bytes:
    """ACCESS_FORMAT filled in as nginx fills it (escape=json: variables JSON-escaped, no quotes)."""
    text = ACCESS_FORMAT.strip("'")
    return re.sub(r"\$([a-z_]+)", lambda m: values.get(m[1], ""), text).encode()


DEFAULTS = {"msec": "1764452464.123", "dockyard_app": "shop", "dockyard_env": "production",
            "host": "shop.example.com", "request_method": "GET", "request_uri": "/cart?id=1",
            "server_protocol": "HTTP/1.1", "status": "200", "body_bytes_sent": "512", "request_time": "0.004",
            "upstream_response_time": "0.003", "remote_addr": "203.0.113.9",
            "http_user_agent": 'curl \\"x\\"'}


def test_the_format_nginx_writes_is_what_the_parser_reads() -> None:
    entry = parse_access(nginx_line(**DEFAULTS))
    assert entry == Access(1764452464123000000, "shop", "production", 200, 0.003,
                           'GET shop.example.com/cart?id=1 HTTP/1.1 200 512B 4.0ms (upstream 3.0ms) 203.0.113.9 '
                           '"curl "x""')


def test_no_upstream_a_retry_and_no_environment() -> None:
    redirect = parse_access(nginx_line(**(DEFAULTS | {"status": "308", "upstream_response_time": "-",
                                                      "dockyard_app": "", "dockyard_env": ""})))
    assert redirect is not None and (redirect.app, redirect.upstream_s, redirect.status) == ("", None, 308)
    assert "upstream" not in redirect.message
    assert upstream_seconds("0.004, 0.002") == 0.006
    assert upstream_seconds("0.010 : 0.001") == 0.011  # an internal redirect's ':'
    assert upstream_seconds("-") is None


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

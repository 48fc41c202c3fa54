"""The host edge's access log: one JSON object per request -> an entry, a log line, metrics. Pure.

HAProxy writes each request as `{"t": accept time (s.ms), "app", "env", "host", "method", "uri",
"proto", "status", "bytes", "rt": ms the request took, "ut": ms the server took to answer, "addr",
"ua", "track"}` (router/edge_render.ACCESS_FORMAT, strings JSON-escaped). `app`/`env` are "-" for what no
environment answered (an unknown name, an ACME challenge). `ut` is -1 when no server answered (a
redirect, the maintenance page, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

# the "service" the edge's access lines have in their environment: `dockyard logs ENV edge`
EDGE_SERVICE = "edge"


@dataclass(frozen=True)
class Access:
    time_ns: int
    app: str
    env: str
    status: int
    upstream_s: float | None  # None: no upstream answered (a redirect, the maintenance page, ...)
    message: str  # the line as the log store keeps it
    track: str = ""  # during a canary rollout: which release answered, canary or stable


def parse_access(raw: bytes) -> Access | None:
    """One access log line -> Access; None for a line that is not one (counted as bad, skipped)."""
    try:
        doc = orjson.loads(raw)
        status = int(doc["status"])
        time_ns = round(float(doc["t"]) * 1000) * 1_000_000
        request_s = float(doc.get("rt") or 0) / 1000
        upstream_ms = float(doc.get("ut", -1))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    upstream = upstream_ms / 1000 if upstream_ms >= 0 else None
    waited = f" (upstream {upstream * 1000:.1f}ms)" if upstream is not None else ""
    message = (f"{doc.get('method', '')} {doc.get('host', '')}{doc.get('uri', '')} {doc.get('proto', '')} "
               f"{status} {doc.get('bytes', 0)}B {request_s * 1000:.1f}ms{waited} {doc.get('addr', '')} "
               f"\"{doc.get('ua', '')}\"")
    return Access(time_ns, _named(doc.get("app")), _named(doc.get("env")), status, upstream, message,
                  _named(doc.get("track")))


def _named(value: object) -> str:
    """An app or environment name; HAProxy writes "-" for none."""
    return "" if value in (None, "", "-") else str(value)


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"

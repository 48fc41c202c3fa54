"""Loki push API (JSON): POST /loki/api/v1/push with
`{"streams": [{"stream": {labels}, "values": [["<unix ns>", "<line>"], ...]}]}`.

Labels are few and stable (host, app, env, service, container, stream); each stream's values go
oldest first, in the order the spool holds them. A line sent twice (replay) has the same time
and text in the same stream: Loki keeps one. 204/2xx: stored; 429/5xx or a connection error:
sent again after a backoff; another 4xx (e.g. out of order, too old): the lines are rejected.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from dockyard.logs.jsonfile import STREAM_NAMES
from dockyard.logs.sinks import Rejected, Retryable, SendResult
from dockyard.logs.spool import Batch

LABELS = ("host", "app", "env", "service", "container")


def push_body(batches: list[Batch]) -> tuple[dict[str, Any], dict[str, int]]:
    """The push request and the line count per container. Pure."""
    streams: dict[tuple[tuple[str, str], ...], list[list[str]]] = {}
    counts: dict[str, int] = {}
    for batch in batches:
        base = tuple((k, str(batch.tags.get(k) or "")) for k in LABELS if batch.tags.get(k))
        for _, ts, stream, message in batch.lines:
            key = (*base, ("stream", STREAM_NAMES[stream]))
            streams.setdefault(key, []).append([str(ts), message])
        counts[batch.cid] = counts.get(batch.cid, 0) + len(batch.lines)
    return {"streams": [{"stream": dict(k), "values": v} for k, v in streams.items()]}, counts


class LokiSink:
    def __init__(self, base_url: str, timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self.name = f"loki:{base_url}"
        self.http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def send(self, batches: list[Batch]) -> SendResult:
        body, counts = push_body(batches)
        if not body["streams"]:
            return SendResult()
        try:
            response = self.http.post("/loki/api/v1/push", content=orjson.dumps(body),
                                        headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise Retryable(f"{self.name}: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise Retryable(f"{self.name}: HTTP {response.status_code}")
        if response.status_code >= 400:
            reason = f"HTTP {response.status_code}: {response.text[:200]}"
            return SendResult(rejected=[Rejected(cid, n, reason) for cid, n in counts.items()])
        return SendResult(stored=sum(counts.values()))

    def close(self) -> None:
        self.http.close()

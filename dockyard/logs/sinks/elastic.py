"""Elasticsearch `_bulk`: NDJSON `create` actions, each with an `_id` made of the line's identity
(container, file, offset), so a batch sent again after a crash or an error stores nothing twice
(Elasticsearch answers 409 for a line it has: counted as stored).

Rules: a connection error, 429 or 5xx for the request, or 429/5xx for any item -> send the
batches again after a backoff (items already stored answer 409). Another 4xx for an item ->
that line is rejected (counted, recorded); another 4xx for the whole request -> every line of it.
"""

from __future__ import annotations

import zlib
from typing import Any

import httpx
import orjson

from dockyard.logs.enrich import line_event
from dockyard.logs.sinks import Rejected, Retryable, SendResult
from dockyard.logs.spool import Batch


def doc_id(cid: str, file: str, offset: int) -> str:
    return f"{cid[:16]}-{zlib.crc32(file.encode()):08x}-{offset:x}"


def bulk_body(batches: list[Batch], index: str) -> tuple[bytes, list[str]]:
    """The NDJSON body (ends with a newline) and the container id of each item, in order. Pure."""
    parts: list[bytes] = []
    owners: list[str] = []
    for batch in batches:
        for line in batch.lines:
            event = line_event(batch.tags, line, batch.file)
            action = {"create": {"_index": index, "_id": doc_id(batch.cid, batch.file, line[0])}}
            parts.append(orjson.dumps(action))
            parts.append(orjson.dumps({k: v for k, v in event.items() if k != "time_ns"}))
            owners.append(batch.cid)
    return b"\n".join(parts) + b"\n", owners


def retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def read_bulk_response(body: dict[str, Any], owners: list[str]) -> SendResult:
    """The bulk answer -> stored and rejected lines; Retryable when an item may succeed later. Pure."""
    result = SendResult()
    if not body.get("errors"):
        result.stored = len(owners)
        return result
    retry = 0
    rejected: dict[tuple[str, str], int] = {}
    for cid, item in zip(owners, body.get("items", []), strict=False):
        (outcome,) = item.values()
        status = int(outcome.get("status", 500))
        if status < 300 or status == 409:
            result.stored += 1
        elif retryable_status(status):
            retry += 1
        else:
            error = outcome.get("error") or {}
            reason = f"{status} {error.get('type', '')}: {error.get('reason', '')}".strip()
            rejected[(cid, reason)] = rejected.get((cid, reason), 0) + 1
    if retry:
        raise Retryable(f"elasticsearch: {retry} items answered 429/5xx")
    result.rejected = [Rejected(cid, n, reason) for (cid, reason), n in rejected.items()]
    return result


class ElasticSink:
    def __init__(self, base_url: str, index: str = "dockyard-logs", timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.name = f"elasticsearch:{base_url}/{index}"
        self.index = index
        self.http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)

    def send(self, batches: list[Batch]) -> SendResult:
        body, owners = bulk_body(batches, self.index)
        if not owners:
            return SendResult()
        try:
            response = self.http.post("/_bulk", content=body, headers={"Content-Type": "application/x-ndjson"})
        except httpx.HTTPError as exc:
            raise Retryable(f"{self.name}: {exc}") from exc
        if retryable_status(response.status_code):
            raise Retryable(f"{self.name}: HTTP {response.status_code}")
        if response.status_code >= 400:
            reason = f"HTTP {response.status_code}: {response.text[:200]}"
            counts: dict[str, int] = {}
            for cid in owners:
                counts[cid] = counts.get(cid, 0) + 1
            return SendResult(rejected=[Rejected(cid, n, reason) for cid, n in counts.items()])
        return read_bulk_response(response.json(), owners)

    def close(self) -> None:
        self.http.close()

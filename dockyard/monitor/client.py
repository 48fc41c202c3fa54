"""Read the agent's HTTP API (for `dockyard stats` and `dockyard events`), and pure table helpers."""

from __future__ import annotations

import http.client
import os
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

from dockyard import settings
from dockyard.errors import DockyardError
from dockyard.monitor.model import DEFAULT_LISTEN, STATS_FIELDS

DEFAULT_AGENT = f"http://{DEFAULT_LISTEN}"


def agent_url(explicit: str | None = None) -> str:
    """--agent, else $DOCKYARD_AGENT, else settings `agent_url`, else this host's default agent."""
    return (explicit or os.environ.get("DOCKYARD_AGENT") or settings.agent_url() or DEFAULT_AGENT).rstrip("/")


class AgentUnavailable(DockyardError):
    pass


def get_json(url: str, path: str, params: dict[str, Any] | None = None, timeout: float = 5.0) -> Any:
    """GET url+path as JSON. The stdlib's http.client: `dockyard events` and the autoscaler's reads
    do not load httpx (~100 ms) for one request to the agent, and no proxy of the environment applies."""
    params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
    where = urlsplit(url + path)
    target = (where.path or "/") + (f"?{urlencode(params, doseq=True)}" if params else "")
    try:
        if where.scheme not in ("http", "https") or not where.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        kind = http.client.HTTPSConnection if where.scheme == "https" else http.client.HTTPConnection
        conn = kind(where.hostname, where.port, timeout=timeout)
        try:
            conn.request("GET", target)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status >= 400:
            raise ValueError(f"HTTP {response.status} {response.reason}")
        return orjson.loads(body)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise AgentUnavailable(
            f"the monitoring agent at {url} did not answer {path}: {exc or type(exc).__name__}",
            hint="start it with 'dockyard agent' (or point --agent / DOCKYARD_AGENT at the host's agent)",
        ) from exc


def stats_rows(samples: list[dict]) -> list[dict]:
    """The --json shape: one sample per container, the documented fields only."""
    return [{k: s.get(k) for k in STATS_FIELDS} for s in
            sorted(samples, key=lambda s: (s.get("app", ""), s.get("env", ""), s.get("service", ""), s["name"]))]


def human_bytes(value: float | None) -> str:
    if value is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}TiB"


def table_cells(s: dict) -> list[str]:
    """One `dockyard stats` row: like docker stats, plus app/env/service and disk."""
    limit = s.get("memory_limit_bytes")
    mem = human_bytes(s.get("memory_bytes")) + " / " + (human_bytes(limit) if limit else "no limit")
    share = f"{s['memory_bytes'] / limit * 100:.1f}%" if limit and s.get("memory_bytes") is not None else "-"
    return [s.get("env") or "-", s.get("service") or "-", s["name"],
            f"{s['cpu_percent']:.1f}%" if s.get("up", True) else "down", mem, share,
            f"{human_bytes(s.get('net_rx_bytes'))} / {human_bytes(s.get('net_tx_bytes'))}",
            f"{human_bytes(s.get('blkio_read_bytes'))} / {human_bytes(s.get('blkio_write_bytes'))}",
            human_bytes(s.get("disk_bytes"))]


STATS_HEADERS = ["env", "service", "name", "cpu", "mem usage / limit", "mem %", "net rx / tx", "block r / w",
                 "disk"]


def event_cells(e: dict, now: float | None = None) -> list[str]:
    now = now or time.time()
    start = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["started_at"]))
    if e.get("ended_at"):
        end = time.strftime("%H:%M:%S", time.localtime(e["ended_at"]))
        state = f"ended {end} ({e['ended_at'] - e['started_at']:.0f}s)"
    else:
        state = f"FIRING ({now - e['started_at']:.0f}s)"
    return [start, state, e["rule"], e.get("env") or "-", e["container"], e["message"]]


EVENT_HEADERS = ["started", "state", "rule", "env", "container", "message"]

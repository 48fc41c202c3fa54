"""The agent's HTTP endpoints (stdlib server, loopback by default):

    /metrics            Prometheus text format
    /api/stats          latest sample per container (JSON; ?app=&env=&service=)
    /api/events         alerts with start and end (JSON; ?app=&env=&limit=)
    /api/probes         discovered services and their last probe
    /api/history        recent samples (?since=SECONDS_AGO&container=&app=&env=&service=)
    /sd/prometheus      Prometheus http_sd targets of the discovered services
    /sd/zabbix          Zabbix low-level discovery JSON
    /healthz            ok
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import orjson

from dockyard.errors import UsageError
from dockyard.monitor import exposition
from dockyard.monitor.loops import MonitorState
from dockyard.monitor.model import DEFAULT_LISTEN
from dockyard.monitor.probes import http_sd, zabbix_lld
from dockyard.netcheck import parse_listen


def _scoped(rows: list[dict], query: dict[str, str]) -> list[dict]:
    keys = [k for k in ("app", "env", "service", "container") if query.get(k)]
    return [r for r in rows if all(r.get("name" if k == "container" else k) == query[k] for k in keys)]


def route(state: MonitorState, path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
    """(status, content type, body) for one GET; pure apart from reading `state`."""
    with state.lock:
        snap, services, recent = state.snapshot, list(state.services), list(state.recent_events)
    if path == "/metrics":
        return 200, exposition.CONTENT_TYPE, exposition.render(snap, state.metric_sources)
    if path == "/api/stats":
        body: Any = {"host": snap.host, "sweeps": snap.sweeps,
                     "samples": _scoped([s.public() for s in snap.samples], query)}
    elif path == "/api/events":
        limit = int(query.get("limit", "100"))
        if state.history is not None:
            body = state.history.events(limit, query.get("app"), query.get("env"))
        else:
            body = [e.__dict__ | {"host": snap.host} for e in recent][:limit]
    elif path == "/api/probes":
        body = [p.__dict__ for p in snap.probes]
    elif path == "/api/history":
        if state.history is None:
            return 404, "application/json", b'{"error": "history is off"}'
        since = time.time() - float(query.get("since", "600"))
        body = state.history.samples(since, query.get("container"), query.get("app"), query.get("env"),
                                     query.get("service"))
    elif path == "/sd/prometheus":
        body = http_sd(services, snap.host)
    elif path == "/sd/zabbix":
        body = zabbix_lld(services, snap.host)
    elif path == "/healthz":
        return 200, "text/plain", b"ok\n"
    else:
        return 404, "application/json", b'{"error": "not found"}'
    return 200, "application/json", orjson.dumps(body, default=str)


class HttpEndpoint:
    """Agent component: serves `route` on HOST:PORT in a thread."""

    name = "http"

    def __init__(self, state: MonitorState, listen: str = DEFAULT_LISTEN) -> None:
        self.state = state
        self.address = parse_listen(listen, DEFAULT_LISTEN)
        self.server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2] if self.server else self.address
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                url = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                try:
                    status, ctype, body = route(state, url.path, query)
                except ValueError as exc:
                    status, ctype, body = 400, "application/json", orjson.dumps({"error": str(exc)})
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        try:
            self.server = ThreadingHTTPServer(self.address, Handler)
        except OSError as exc:
            raise UsageError(f"cannot listen on {self.address[0]}:{self.address[1]}: {exc.strerror}",
                             hint="pick another --listen HOST:PORT") from exc
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="monitor-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

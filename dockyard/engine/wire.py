"""A small client for the engine's read calls: one keep-alive HTTP/1.1 connection to the engine's
socket (or its TLS port), GET requests, JSON answers; streams (events) on connections of their own.

`ps`, `status` and `logs` need a listing and a few inspects; docker-py and requests cost more to
import than those calls take (issue 30), so reads go through here and docker-py is loaded on an
engine's first write (engine/client.py). The stdlib's http.client: no proxy from the environment,
and the engine's own CA for TLS.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson

from dockyard.settings_base import EngineSettings

__all__ = ["API_VERSION", "JsonStream", "Wire", "WireError", "WireRefused", "unframe"]

API_VERSION = "1.41"  # Engine 20.10's API; later engines still serve it


class WireError(OSError):
    """The engine could not be asked, or stopped answering."""


class WireRefused(Exception):
    """The engine answered with an error status (its own message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message = status, message


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _tls_context(cfg: EngineSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cfg.tls_ca) if cfg.tls_ca else ssl.create_default_context()
    if cfg.tls_cert and cfg.tls_key:
        context.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    return context


class Wire:
    """GET requests to one engine, on one connection kept open between them; one request at a time
    (an engine may be shared by threads: a deploy's probes, the server's loops)."""

    def __init__(self, cfg: EngineSettings, timeout: float = 60.0) -> None:
        self.cfg, self.timeout = cfg, timeout
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = self._open(self.timeout)
        return self._conn

    def _open(self, timeout: float | None) -> http.client.HTTPConnection:
        url = urlsplit(self.cfg.host)
        if url.scheme == "unix":
            return _UnixConnection(url.path, timeout)
        if url.scheme in ("tcp", "https", "http"):
            port = url.port or 2376
            if self.cfg.tls_ca or self.cfg.tls_cert or url.scheme == "https":
                return http.client.HTTPSConnection(url.hostname or "", port, timeout=timeout,
                                                   context=_tls_context(self.cfg))
            return http.client.HTTPConnection(url.hostname or "", port, timeout=timeout)
        raise WireError(f"unsupported engine address {self.cfg.host!r} (unix:// or tcp://)")

    def get(self, path: str, query: dict[str, Any] | None = None) -> Any:
        """The JSON answer of GET /v1.41{path} (see raw)."""
        body = self.raw(path, query)
        return orjson.loads(body) if body else None

    def raw(self, path: str, query: dict[str, Any] | None = None) -> bytes:
        """The body of GET /v1.41{path}; WireRefused for an error status, WireError when the engine
        cannot be reached. A connection the engine closed meanwhile is opened again, once."""
        target = f"/v{API_VERSION}{path}" + (f"?{urlencode(query)}" if query else "")
        with self._lock:
            return self._exchange(target)

    def _exchange(self, target: str) -> bytes:
        for attempt in (1, 2):
            try:
                conn = self._connection()
                conn.request("GET", target, headers={"Host": "docker"})
                response = conn.getresponse()
                body = response.read()
                if response.will_close:  # the engine ends this connection: the next request opens one
                    self.close()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if attempt == 2:
                    raise WireError(f"the engine closed the connection: {exc}") from exc
                continue
            except (OSError, ValueError, http.client.HTTPException) as exc:  # ValueError: a bad TLS file
                self.close()
                raise WireError(str(exc) or type(exc).__name__) from exc
            if response.status >= 400:
                raise WireRefused(response.status, _message(body))
            return body
        raise AssertionError("unreachable")

    def ping(self) -> None:
        try:
            self.raw("/_ping")
        except WireRefused as exc:
            raise WireError(f"/_ping answered {exc.status}") from exc

    def stream(self, path: str, query: dict[str, Any]) -> JsonStream:
        """A streamed answer (events), one JSON document a line, on a connection of its own without a
        timeout; WireRefused, WireError as `raw`."""
        conn = self._open(None)
        try:
            conn.request("GET", f"/v{API_VERSION}{path}?{urlencode(query)}", headers={"Host": "docker"})
            answer = conn.getresponse()
        except (OSError, ValueError, http.client.HTTPException) as exc:
            conn.close()
            raise WireError(str(exc) or type(exc).__name__) from exc
        if answer.status >= 400:
            body = answer.read()
            conn.close()
            raise WireRefused(answer.status, _message(body))
        return JsonStream(conn, answer)

    def containers(self, filters: dict[str, list[str]], all: bool = True) -> list[dict[str, Any]]:
        """The engine's container listing (GET /containers/json) with these filters."""
        query: dict[str, Any] = {"filters": json.dumps(filters)}
        if all:
            query["all"] = "1"
        return list(self.get("/containers/json", query) or [])

    def inspect_container(self, container_id: str) -> dict[str, Any] | None:
        """The container's inspect JSON; None when it is gone."""
        try:
            return dict(self.get(f"/containers/{quote(container_id, safe='')}/json"))
        except WireRefused as exc:
            if exc.status == 404:
                return None
            raise

    def logs(self, container_id: str, stream: str, tail: int, since: float | None = None) -> bytes | None:
        """One stream (stdout or stderr) of the container's output with timestamps, its frames joined;
        None when the container is gone. Dockyard makes no container with a TTY, so the engine sends
        its output in frames (an 8-byte header: stream, 3 zero bytes, length)."""
        query: dict[str, Any] = {stream: "1", "timestamps": "1", "tail": str(tail)}
        if since is not None:
            query["since"] = f"{since:.9f}"
        try:
            return unframe(self.raw(f"/containers/{quote(container_id, safe='')}/logs", query))
        except WireRefused as exc:
            if exc.status == 404:
                return None
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class JsonStream:
    """The documents of a streamed answer; close() ends it, from another thread too."""

    def __init__(self, conn: http.client.HTTPConnection, answer: http.client.HTTPResponse) -> None:
        self.conn, self.answer = conn, answer

    def __iter__(self) -> Iterator[Any]:
        while True:
            line = self.answer.readline()
            if not line:
                return
            if line.strip():
                yield orjson.loads(line)

    def close(self) -> None:
        try:
            if self.conn.sock is not None:
                self.conn.sock.shutdown(socket.SHUT_RDWR)  # wakes a reader blocked in readline()
        except OSError:
            pass
        self.conn.close()


def _message(body: bytes) -> str:
    try:
        return str(orjson.loads(body).get("message") or body[:300].decode(errors="replace"))
    except (ValueError, AttributeError):
        return body[:300].decode(errors="replace").strip()


def unframe(body: bytes) -> bytes:
    """Pure: the payloads of a multiplexed log body, joined."""
    out, at = bytearray(), 0
    while at + 8 <= len(body):
        size = int.from_bytes(body[at + 4:at + 8], "big")
        out += body[at + 8:at + 8 + size]
        at += 8 + size
    return bytes(out)

"""Syslog over TCP: RFC 5424 messages, octet-counting framing (RFC 6587), e.g. to rsyslog's imtcp.

Plain TCP has no application-level acknowledgement: a batch counts as delivered once the kernel
took all of it. After a connection error the whole batch is sent again (at least once: the
receiver may see some lines twice).
"""

from __future__ import annotations

import socket
from typing import Any

from dockyard.logs.enrich import line_event
from dockyard.logs.jsonfile import STDERR
from dockyard.logs.sinks import Retryable, SendResult
from dockyard.logs.spool import Batch

FACILITY_USER = 1
SEVERITY_INFO, SEVERITY_ERR = 6, 3
SD_ID = "dockyard@32473"
SD_FIELDS = ("app", "env", "service", "release", "container_id", "stream")


def _name(value: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, never empty."""
    clean = "".join(ch for ch in value if 33 <= ord(ch) <= 126)[:limit]
    return clean or "-"


def _param(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def format_5424(event: dict[str, Any]) -> bytes:
    """One line event -> one RFC 5424 message (without framing). Pure."""
    severity = SEVERITY_ERR if event["stream"] in ("stderr", STDERR) else SEVERITY_INFO
    pri = FACILITY_USER * 8 + severity
    sd = " ".join(f'{k}="{_param(event.get(k, ""))}"' for k in SD_FIELDS)
    header = (f"<{pri}>1 {event['@timestamp']} {_name(event.get('host', ''), 255)} "
              f"{_name(event.get('container', ''), 48)} {_name(event.get('container_id', '')[:12], 128)} "
              f"{_name(event['stream'], 32)} [{SD_ID} {sd}] ")
    return header.encode() + event["message"].encode("utf-8", "replace")


def frame(message: bytes) -> bytes:
    return b"%d %s" % (len(message), message)


def encode_batches(batches: list[Batch]) -> bytes:
    return b"".join(frame(format_5424(line_event(b.tags, line, b.file))) for b in batches for line in b.lines)


class SyslogSink:
    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self.name = f"syslog+tcp://{host}:{port}"
        self.address = (host, port)
        self.timeout = timeout
        self.sock: socket.socket | None = None

    def send(self, batches: list[Batch]) -> SendResult:
        data = encode_batches(batches)
        try:
            if self.sock is None:
                self.sock = socket.create_connection(self.address, timeout=self.timeout)
            self.sock.sendall(data)
        except OSError as exc:
            self.close()
            raise Retryable(f"{self.name}: {exc}") from exc
        return SendResult(stored=sum(len(b.lines) for b in batches))

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

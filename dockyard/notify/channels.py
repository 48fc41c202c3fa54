"""Sending one delivery to its channel: a webhook (signed JSON), a Slack-compatible incoming
webhook, or an e-mail over SMTP. Each failure is a DeliveryFailed saying what the receiver did."""

from __future__ import annotations

import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from dockyard.errors import DockyardError
from dockyard.notify.model import Event, body, signature, slack_body

if TYPE_CHECKING:
    from dockyard.settings_model import ChannelSettings

TIMEOUT = 10.0


class DeliveryFailed(DockyardError):
    """The receiver did not take the delivery (it is tried again later)."""


def _secret(path: str | None, what: str) -> bytes:
    if not path:
        return b""
    try:
        return Path(path).read_bytes().strip()
    except OSError as exc:
        raise DeliveryFailed(f"cannot read {what} {path}: {exc.strerror}") from exc


def send(key: str, channel: ChannelSettings, event: Event) -> str:
    """Deliver, or raise DeliveryFailed (nothing was taken: try again). Returns a note when the
    receiver took it only in part (an SMTP server that refused some recipients): it is delivered,
    since sending it again would give the others a second copy."""
    if channel.type == "email":
        return _email(key, channel, event)
    assert channel.url is not None  # the settings' validator makes sure
    if channel.type == "webhook":
        payload = body(key, event)
        headers = {"Content-Type": "application/json", "Idempotency-Key": key, "X-Dockyard-Event": event.kind}
        secret = _secret(channel.secret_file, "the webhook's secret_file")
        if secret:
            headers["X-Dockyard-Signature"] = signature(secret, payload)
    else:
        payload, headers = slack_body(event), {"Content-Type": "application/json", "Idempotency-Key": key}
    try:
        response = httpx.post(channel.url, content=payload, headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{channel.url}: {type(exc).__name__}: {exc}") from exc
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"{channel.url} answered {response.status_code}")
    return ""


def _said(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{address} ({code} {_said(reply)})" for address, (code, reply) in refused.items())


def _email(key: str, channel: ChannelSettings, event: Event) -> str:
    assert channel.smtp and channel.sender
    host, _, port = channel.smtp.rpartition(":")
    message = EmailMessage()
    message["Subject"] = f"[dockyard] {event.text}"
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Date"] = formatdate(event.at)
    message["Message-ID"] = f"<{re.sub(r'[^A-Za-z0-9.-]', '.', key)}@dockyard>"  # the same for a retry
    message["Idempotency-Key"] = key
    message.set_content(f"{event.text}\n\napp: {event.app}\nenvironment: {event.env}\nevent: {event.kind}\n")
    try:
        with smtplib.SMTP(host, int(port), timeout=TIMEOUT) as smtp:
            if channel.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if channel.username:
                smtp.login(channel.username, _secret(channel.password_file, "the SMTP password_file").decode())
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryFailed(f"SMTP server {channel.smtp} refused every recipient: "
                             f"{_refusals(exc.recipients)}") from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryFailed(f"SMTP server {channel.smtp} refused: {exc.smtp_code} {_said(exc.smtp_error)}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"SMTP server {channel.smtp}: {type(exc).__name__}: {exc}") from exc
    return f"SMTP server {channel.smtp} refused {_refusals(refused)}; the others have it" if refused else ""

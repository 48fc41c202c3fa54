"""Where Dockyard's own listeners and clients may talk without protection (shared vocabulary).

The server and the agent bind 127.0.0.1 by default. Off loopback, the server needs TLS (tokens and
secrets cross the network) and the agent, which has no authentication at all, must be asked for
explicitly; a client sends a bearer token over plain http:// to loopback only.
"""

from __future__ import annotations

import ipaddress
import re

from dockyard.errors import UsageError


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_listen(text: str, example: str = "127.0.0.1:8700") -> tuple[str, int]:
    """'HOST:PORT', '[::1]:PORT' or ':PORT' (127.0.0.1) -> (host, port), for the server and the agent."""
    match = re.fullmatch(r"(?:\[([0-9a-fA-F:]+)\]|([^:\[\]]*)):(\d{1,5})", text.strip())
    if not match or not 0 <= int(match.group(3)) < 65536:  # 0: any free port (tests)
        raise UsageError(f"--listen {text!r}: expected HOST:PORT, e.g. {example}")
    return match.group(1) or match.group(2) or "127.0.0.1", int(match.group(3))


def check_listen(what: str, host: str, tls: bool, insecure: bool, doc: str = "docs/security.md") -> None:
    """Refuse a listener off loopback that would serve in the clear, unless `insecure` says so."""
    if is_loopback(host) or tls or insecure:
        return
    raise UsageError(f"{what} would listen on {host} without TLS: anyone on that network could read or replay "
                     "what it serves", hint=f"keep 127.0.0.1 and put a TLS proxy in front ({doc}), or pass --insecure "
                     "on a network you trust")

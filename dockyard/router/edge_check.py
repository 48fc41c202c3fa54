"""What `dockyard doctor` says of this host's edge (issue 27): is it up where it has routes, are
its ports its own, which certificates are due, and which routes no environment stands behind.

`findings` is pure (the facts are gathered by `edge_facts`), so every verdict is tested by equality.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dockyard.router import procs
from dockyard.router.certs import CertificateError, CertInfo, read_info
from dockyard.router.edge import Edge


@dataclass(frozen=True)
class EdgeFacts:
    routes: list[tuple[str, str]]  # (app, env) of each route
    running: bool
    stopped: bool  # by `dockyard edge stop`
    ports_held: bool  # its ports are listened on (by it, or by another process while it is down)
    address: str
    ports: tuple[int, ...]
    certificates: dict[str, CertInfo | str] = field(default_factory=dict)  # name -> info, or why unreadable
    live: set[tuple[str, str]] = field(default_factory=set)  # (app, env) with a live release


def findings(facts: EdgeFacts, now: float, renew_before: float) -> tuple[str, list[str]]:
    """(a line saying what is fine, the problems, each with its fix)."""
    problems = []
    where = f"{facts.address}:{'/'.join(map(str, facts.ports))}"
    if facts.stopped:
        summary = f"stopped by `dockyard edge stop` ({len(facts.routes)} route(s) kept)"
    elif facts.routes and not facts.running:
        summary = "not running"
        problems.append(f"{len(facts.routes)} route(s) and HAProxy is not running: `dockyard edge start`"
                        + (f"; another process holds a port of {where}" if facts.ports_held else ""))
    elif facts.running and not facts.routes:
        summary = f"running on {where}"
        problems.append(f"HAProxy listens on {where} with no route: `dockyard edge stop`")
    else:
        summary = f"running on {where}, {len(facts.routes)} route(s)" if facts.running else "no route, not running"
    for app, env in facts.routes:
        if (app, env) not in facts.live:
            problems.append(f"the route of {app}/{env} has no live release behind it: `dockyard down {env}` in "
                            f"{app}'s folder withdraws it")
    for name, info in sorted(facts.certificates.items()):
        if isinstance(info, str):
            problems.append(f"the certificate of {name} cannot be read: {info}")
        elif info.not_after <= now:
            problems.append(f"the certificate of {name} expired on {_day(info.not_after)}: `dockyard edge renew`")
        elif info.not_after - now <= renew_before:
            problems.append(f"the certificate of {name} expires on {_day(info.not_after)} (renewal due): "
                            "`dockyard edge renew`, or is `dockyard server` running?")
    return summary, problems


def _day(stamp: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(stamp))


def edge_facts(edge: Edge, has_live: Callable[[str, str], bool]) -> EdgeFacts:
    routes = edge.routes()
    certificates: dict[str, CertInfo | str] = {}
    for route in routes:
        for name, (chain, _key) in route.certificates.items():
            try:
                certificates[name] = read_info(Path(chain).read_bytes())
            except (OSError, CertificateError) as exc:
                certificates[name] = str(exc)
    return EdgeFacts(routes=[(r.app, r.env) for r in routes], running=edge.pid() is not None,
                     stopped=edge.stopped(), ports_held=bool(procs.listening_sockets(edge.ports())),
                     address=edge.site.address, ports=edge.ports(), certificates=certificates,
                     live={(r.app, r.env) for r in routes if has_live(r.app, r.env)})

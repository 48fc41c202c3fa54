"""HTTPS for an edge route: the certificates its names are served with, issued or renewed when due.

`secure(prefix, answer, route)` returns the route with a certificate for each of its names, and a problem
when one could not be had. What is due: no certificate yet, one that does not name every name,
or one that expires within the site's `renew_before_s`. A failed issue or renewal keeps the
certificate the names had (or none, and plain HTTP), and says why: the caller records it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from dockyard import settings
from dockyard.errors import DockyardError
from dockyard.router.acme_client import AcmeSite, Answer, issue
from dockyard.router.certs import CertStore, new_key, self_signed
from dockyard.router.edge_render import EdgeRoute


def cert_store(prefix: Path) -> CertStore:
    """The edge's certificates, under its folder."""
    return CertStore(prefix / "certs")


def acme_site(site: settings.Settings | None = None) -> AcmeSite:
    edge = (site or settings.load()).edge
    return AcmeSite(edge.acme_directory, edge.acme_email, edge.acme_ca_bundle)


def secure(prefix: Path, answer: Answer, route: EdgeRoute, now: float | None = None,
           site: settings.Settings | None = None) -> tuple[EdgeRoute, str | None]:
    """(the route with its certificates, a problem or None). `prefix`: the edge's folder; `answer`:
    how the edge serves ACME challenge answers."""
    if route.tls == "off":
        return replace(route, certificates={}), None
    store, names = cert_store(prefix), route.names
    if route.tls == "installed":
        found = {name: store.latest(store.installed(name)) for name in names}
        missing = sorted(name for name, paths in found.items() if paths is None)
        certificates = {name: (str(p[0]), str(p[1])) for name, p in found.items() if p is not None}
        problem = (f"no certificate is installed for {', '.join(missing)}: they are served over HTTP"
                   if missing else None)
        return replace(route, certificates=certificates), problem
    site = site or settings.load()
    folder = store.folder(route.key)
    info, current = store.info(folder), store.latest(folder)
    now = time.time() if now is None else now
    if info is not None and current is not None and info.covers(names) and \
            info.not_after - now > site.edge.renew_before_s:
        return replace(route, certificates={n: (str(current[0]), str(current[1])) for n in names}), None
    try:
        if route.tls == "self-signed":
            key = new_key()
            cert = self_signed(names, key)
        else:
            cert, key = issue(names, acme_site(site), prefix / "acme", answer)
        made = store.put(folder, cert, key)
    except DockyardError as exc:
        kept = {n: (str(current[0]), str(current[1])) for n in names
                if current is not None and info is not None and n in info.names}
        what = "renewed" if current is not None else "issued"
        serving = "the previous one still serves" if kept else "they are served over HTTP"
        return replace(route, certificates=kept), f"certificate for {', '.join(names)} not {what} ({serving}): " \
                                                  f"{exc.message}"
    return replace(route, certificates={n: (str(made[0]), str(made[1])) for n in names}), None

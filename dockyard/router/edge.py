"""The host's edge: one nginx in front of every environment that has domains, routing by name.

Files live under $DOCKYARD_HOME/edge/: nginx.conf (rendered by edge_render.render_edge from every
route), routes/<app>_<env>.json (one per environment: what it claims and what serves it), and
nginx's own pid, log and temp files. A change of one route is checked against every other
route's claims, rendered with all of them, checked by `nginx -t` and loaded with a graceful reload
(NginxProcess.serve); only then does its route file replace the old one. Changes are serialized by
a lock file: two deploys of different environments do not lose each other's route.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from dockyard import settings
from dockyard.router import procs
from dockyard.router.certs import write_private
from dockyard.router.edge_render import EdgeRoute, EdgeSite, access_log, claim_conflicts, render_edge, route_key
from dockyard.router.edge_tls import secure
from dockyard.router.nginx_proc import NGINX, NginxProcess, Report, RouterError
from dockyard.router.render import RouterPaths

Where = Callable[[str], str]  # a name of the route -> "dockyard.yml:LINE" where it was written


class EdgeConflict(RouterError):
    """A name (and path) another environment's route already holds."""


def edge_dir(home: Path | None = None) -> Path:
    return (home or settings.home()) / "edge"


def site_settings(site: settings.Settings | None = None) -> EdgeSite:
    edge = (site or settings.load()).edge
    return EdgeSite(address=edge.address, http_port=edge.http_port, https_port=edge.https_port)


class Edge(NginxProcess):
    what = "edge"
    port_hint = "free the port, or move the edge: dockyard edge configure --http-port PORT"

    def __init__(self, home: Path | None = None, site: EdgeSite | None = None, binary: str = NGINX,
                 report: Report = lambda _line: None) -> None:
        super().__init__(RouterPaths(edge_dir(home)), "edge", binary, report)
        self.site = site or site_settings()
        self.routes_dir = self.paths.prefix / "routes"

    def ports(self) -> tuple[int, ...]:
        return (self.site.http_port, self.site.https_port)

    def install(self, text: str) -> None:
        access_log(self.paths).parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # nginx -t opens it
        super().install(text)

    # the access log, for the agent's forwarder -----------------------------
    def log_writers(self) -> set[int]:
        """Pids that may hold the access log open: the master and its workers (draining ones too)."""
        pid = self.pid()
        return {pid, *(child.pid for child in procs.children(pid))} if pid else set()

    def reopen_log(self) -> None:
        """After the access log was renamed: the master opens a new one and tells its workers (USR1)."""
        pid = self.pid()
        if pid:
            os.kill(pid, signal.SIGUSR1)

    # facts ---------------------------------------------------------------
    def routes(self) -> list[EdgeRoute]:
        found = []
        for path in sorted(self.routes_dir.glob("*.json")):
            try:
                found.append(EdgeRoute.from_json(path.read_text()))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self.report(f"ignored the unreadable edge route {path}: {exc}")
        return found

    def route(self, app: str, env: str) -> EdgeRoute | None:
        return next((r for r in self.routes() if (r.app, r.env) == (app, env)), None)

    def rendered(self) -> str:
        return self._render(self.routes())

    def _render(self, routes: list[EdgeRoute]) -> str:
        return render_edge(routes, self.site, self.paths, self.challenges())

    def challenges(self) -> dict[str, str]:
        """The HTTP-01 answers of an ACME order in progress (token -> key authorization)."""
        try:
            return dict(json.loads((self.paths.prefix / "acme" / "challenges.json").read_text()))
        except (OSError, ValueError):
            return {}

    def hand_edited(self) -> bool:
        try:
            return self.paths.conf.read_text() != self.rendered()
        except OSError:
            return False

    # changes -------------------------------------------------------------
    def check(self, route: EdgeRoute, where: Where) -> None:
        """Refuse a route whose names another environment holds: file:line and the owner, each."""
        conflicts = claim_conflicts(route, self.routes())
        if conflicts:
            raise EdgeConflict("\n".join(f"{where(claim.name)}: {claim} is already served by {owner.app}/{owner.env} "
                                         "on this host's edge" for claim, owner in conflicts),
                               hint="each name (and path) belongs to one environment; remove it there first "
                                    "(dockyard down ENV in that app) or choose another")

    def publish(self, route: EdgeRoute, where: Where) -> bool:
        """Serve `route` (replacing this environment's previous one; a maintenance mode it was in
        stays on). False if nothing changed."""
        with self._locked():
            self.check(route, where)
            target = self.routes_dir / f"{route.key}.json"
            others = [r for r in self.routes() if r.key != route.key]
            before = self.route(route.app, route.env)
            if before is not None:  # maintenance stays on; its certificates stay while it wants HTTPS
                kept = {n: c for n, c in before.certificates.items() if n in route.names and route.tls != "off"}
                route = replace(route, maintenance=before.maintenance, certificates=route.certificates or kept)
            if before == route and self.pid() is not None and not self.hand_edited():
                return False
            self.serve(self._render([*others, route]))
            write_private(target, route.to_json().encode())
            return True

    def maintenance(self, app: str, env: str, message: str | None) -> EdgeRoute:
        """Answer the environment's names with a 503 page saying `message` (None: serve again)."""
        with self._locked():
            route = self.route(app, env)
            if route is None:
                raise RouterError(f"{app}/{env} is not on this host's edge: maintenance is the edge's page",
                                  hint="give the environment domains: in dockyard.yml and deploy it")
            route = replace(route, maintenance=message)
            self.serve(self._render([*(r for r in self.routes() if r.key != route.key), route]))
            write_private(self.routes_dir / f"{route.key}.json", route.to_json().encode())
            return route

    def answer(self, tokens: dict[str, str]) -> None:
        """Serve these ACME HTTP-01 answers (an empty dict: none any more)."""
        with self._locked():
            folder = self.paths.prefix / "acme"
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_private(folder / "challenges.json", json.dumps(tokens, sort_keys=True).encode())
            if self.pid() is not None:
                self.serve(self.rendered())

    def secure(self, route: EdgeRoute) -> tuple[EdgeRoute, str | None]:
        """The route with a certificate for each name, issued or renewed when due (edge_tls.secure)."""
        return secure(self.paths.prefix, self.answer, route)

    def withdraw(self, app: str, env: str) -> bool:
        """Stop serving an environment's names. False if it had no route."""
        target = self.routes_dir / f"{route_key(app, env)}.json"
        if not target.exists():
            return False
        with self._locked():
            others = [r for r in self.routes() if (r.app, r.env) != (app, env)]
            if self.pid() is not None:
                self.serve(self._render(others))
            target.unlink()
            return True

    def repair(self) -> list[str]:
        """Supervision (the balancer watch): a dead master started again; a configuration edited by
        hand rendered again from the route files."""
        done = []
        with self._locked():  # a change in progress has its configuration ahead of its route file
            if self.restart_if_dead():
                done.append("the edge's master had died: started again on its configuration")
            if self.pid() is not None and self.hand_edited():
                self.serve(self.rendered())
                done.append(f"{self.paths.conf} was edited by hand: rendered again from the routes")
        return done

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.routes_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.paths.prefix / "lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

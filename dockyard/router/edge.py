"""The host's edge: one HAProxy in front of every environment that has domains, routing by name.

Files live under $DOCKYARD_HOME/edge/: haproxy.cfg (rendered by edge_render.render_edge from every
route), routes/<app>_<env>.json (one per environment: what it claims and what serves it), tls/
(each name's certificate and key in one file, as HAProxy loads them), canary-weights.map (each
canary's share, which a step changes in the running process over the admin socket: no reload),
logs/access-*.log (one per HAProxy process) and HAProxy's pid file, error log and admin socket.
A change of one route is checked against every other route's claims, rendered with all of them,
checked by `haproxy -c` and loaded with a seamless reload (HaproxyProcess.serve); only then does its
route file replace the old one. Changes, and the reloads that rotate the access log, are serialized
by a lock file: two deploys of different environments do not lose each other's route.

HAProxy, not nginx (bench/edge_proxies.py, docs/edge.md): with client keep-alive it serves about as
fast as the replica alone, and its reload closes an idle kept-alive connection only after that
connection's next response, where nginx closes it at once and a request sent meanwhile fails.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from dockyard import settings
from dockyard.router import procs
from dockyard.router.edge_render import (
    EdgePaths,
    EdgeRoute,
    EdgeSite,
    canary_weights,
    claim_conflicts,
    render_edge,
    route_key,
)
from dockyard.router.edge_routes import EdgeRoutes, edge_dir
from dockyard.router.haproxy_proc import HAPROXY, HaproxyProcess, Report
from dockyard.router.nginx_proc import RouterError

Where = Callable[[str], str]  # a name of the route -> "dockyard.yml:LINE" where it was written


class EdgeConflict(RouterError):
    """A name (and path) another environment's route already holds."""


class Edge(HaproxyProcess, EdgeRoutes):
    what = "edge"
    port_hint = "free the port, or move the edge: dockyard edge configure --http-port PORT"

    def __init__(self, home: Path | None = None, site: EdgeSite | None = None, binary: str = HAPROXY,
                 report: Report = lambda _line: None) -> None:
        HaproxyProcess.__init__(self, EdgePaths(edge_dir(home)), "edge", binary, report)
        EdgeRoutes.__init__(self, home, site, report)

    def ports(self) -> tuple[int, ...]:
        return (self.site.http_port, self.site.https_port)

    def _stop_earlier_nginx(self) -> None:
        """An edge of an earlier Dockyard (nginx, on edge/nginx.conf) lets go of the ports first:
        a graceful stop, its workers finishing what they hold."""
        try:
            pid = int((self.paths.prefix / "nginx.pid").read_text().strip())
        except (OSError, ValueError):
            return
        if not procs.is_master(procs.read_proc(pid), self.paths.prefix / "nginx.conf"):
            return
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 10
        while procs.listening_sockets(self.ports()) and procs.is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.report(f"stopped the edge's earlier nginx (pid {pid}): HAProxy serves the edge now")

    # the access log, for the agent's forwarder -----------------------------
    def log_writers(self) -> set[int]:
        """Pids that may hold the access log open: every process, old ones still draining too."""
        return self.processes()

    def reopen_log(self) -> None:
        """Rotate the access log: a new process (writing a new file) takes over from the running ones."""
        with self._locked():
            if self.pid() is not None:
                self.reload()

    # facts ---------------------------------------------------------------
    def rendered(self) -> str:
        return self._render(self.routes())

    def _render(self, routes: list[EdgeRoute]) -> str:
        return render_edge(routes, self.site, self.paths, self.challenges())

    def _serve(self, routes: list[EdgeRoute]) -> None:
        """Serve these routes: each name's certificate file written (0600), then the configuration."""
        for route in routes:
            for name, (chain, key) in route.certificates.items():
                try:
                    pem = Path(chain).read_bytes().rstrip(b"\n") + b"\n" + Path(key).read_bytes()
                except OSError as exc:
                    raise RouterError(f"{route.app}/{route.env}: the certificate of {name} cannot be read: {exc}",
                                      hint="deploy the environment again: a missing one is issued again") from exc
                target = self.paths.certificate(name)
                if not target.exists() or target.read_bytes() != pem:
                    settings.private_dir(target.parent)
                    settings.replace_private(target, pem)
        # the canaries' weights, which the configuration reads from a file of their own (written first)
        settings.private_dir(self.paths.prefix)
        settings.replace_private(self.paths.weights, canary_weights(routes).encode())
        if self.stopped():  # `dockyard edge stop`: the configuration follows the routes, nothing listens
            self.install(self._render(routes))
            self.report("edge: stopped by `dockyard edge stop`; the routes are kept and served after "
                        "`dockyard edge start`")
            return
        self.serve(self._render(routes))

    # stopped by the operator -----------------------------------------------
    @property
    def stop_marker(self) -> Path:
        return self.paths.prefix / "stopped"

    def stopped(self) -> bool:
        return self.stop_marker.exists()

    def stop_serving(self) -> bool:
        """`dockyard edge stop`: HAProxy finishes what it holds and exits; the routes stay, and nothing
        (a deploy, the watch) starts it again until start_serving. False if it was not running."""
        with self._locked():
            settings.private_dir(self.paths.prefix)
            self.stop_marker.touch(mode=0o600)
            was = self.pid() is not None
            self.stop()
            return was

    def start_serving(self) -> int:
        """`dockyard edge start`: serve the routes again; how many."""
        with self._locked():
            self.stop_marker.unlink(missing_ok=True)
            routes = self.routes()
            if routes:
                self._serve(routes)
            return len(routes)

    def _before_start(self) -> None:
        """Said at every first start (a deploy's output shows it): where the edge listens."""
        self._stop_earlier_nginx()
        everyone = self.site.address in ("0.0.0.0", "::")
        self.report(f"edge: HAProxy starts listening on {self.site.address}:{self.site.http_port} (HTTP) and "
                    f":{self.site.https_port} (HTTPS)" + ("" if everyone else "; only this host reaches it: "
                    "`dockyard edge configure --address 0.0.0.0` serves other machines"))

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
            self._serve([*others, route])
            settings.replace_private(target, route.to_json().encode())
            return True

    def weigh_canary(self, app: str, env: str, weight: int) -> bool:
        """The canary's share of the environment's requests, changed in the running process at once
        (the weights map, over the admin socket: no reload, no new process) and in the files the
        next one starts from. -1 cuts everybody off the canary, testers too: an abort's first move,
        before the route loses its canary. False where no process serves the environment's canary
        (the caller publishes the route instead)."""
        with self._locked():
            route = self.route(app, env)
            if route is None or route.split is None or self.pid() is None or self.stopped():
                return False
            if weight >= 0:
                route = replace(route, canary=replace(route.split, weight=weight))
            try:
                self.runtime_change(f"set map {self.paths.weights} {route.key} {weight}")
            except RouterError as exc:
                self.report(f"edge: {exc.message}; the canary's weight goes with a reload")
                return False
            others = [r for r in self.routes() if r.key != route.key]
            text = canary_weights([*others, route]) if weight >= 0 else canary_weights(others) + f"{route.key} -1\n"
            settings.replace_private(self.paths.weights, text.encode())
            if weight >= 0:
                settings.replace_private(self.routes_dir / f"{route.key}.json", route.to_json().encode())
            return True

    def maintenance(self, app: str, env: str, message: str | None) -> EdgeRoute:
        """Answer the environment's names with a 503 page saying `message` (None: serve again)."""
        with self._locked():
            route = self.route(app, env)
            if route is None:
                raise RouterError(f"{app}/{env} is not on this host's edge: maintenance is the edge's page",
                                  hint="give the environment domains: in dockyard.yml and deploy it")
            route = replace(route, maintenance=message)
            self._serve([*(r for r in self.routes() if r.key != route.key), route])
            settings.replace_private(self.routes_dir / f"{route.key}.json", route.to_json().encode())
            return route

    def answer(self, tokens: dict[str, str]) -> None:
        """Serve these ACME HTTP-01 answers (an empty dict: none any more)."""
        with self._locked():
            folder = self.paths.prefix / "acme"
            settings.private_dir(folder)
            settings.replace_private(folder / "challenges.json", json.dumps(tokens, sort_keys=True).encode())
            if self.pid() is not None:
                self._serve(self.routes())

    def secure(self, route: EdgeRoute) -> tuple[EdgeRoute, str | None]:
        """The route with a certificate for each name, issued or renewed when due (edge_tls.secure)."""
        from dockyard.router.edge_tls import secure
        return secure(self.paths.prefix, self.answer, route)

    def withdraw(self, app: str, env: str) -> bool:
        """Stop serving an environment's names. False if it had no route."""
        target = self.routes_dir / f"{route_key(app, env)}.json"
        if not target.exists():
            return False
        with self._locked():
            others = [r for r in self.routes() if (r.app, r.env) != (app, env)]
            if self.pid() is not None and not others:  # nothing left to serve: nothing listens
                self.stop()
                self.report("edge: no route left; HAProxy stopped (a deploy with domains starts it again)")
            elif self.pid() is not None:
                self._serve(others)
            target.unlink()
            return True

    def forget_certificates(self, app: str, env: str) -> bool:
        """Delete the certificates issued for an environment's names (down --purge). False if it had none."""
        from dockyard.router.edge_tls import cert_store  # acme and cryptography: loaded when needed

        folder = cert_store(self.paths.prefix).folder(route_key(app, env))
        if not folder.exists():
            return False
        shutil.rmtree(folder)
        return True

    def repair(self) -> list[str]:
        """Supervision (the balancer watch): a dead master started again; a configuration edited by
        hand rendered again from the route files."""
        done: list[str] = []
        with self._locked():  # a change in progress has its configuration ahead of its route file
            if self.stopped() or not self.routes():  # stopped by the operator, or nothing to serve
                return done
            if not self.paths.conf.exists():  # an edge of an earlier Dockyard (nginx)
                self._serve(self.routes())
                done.append(f"rendered {self.paths.conf} from the routes and started the edge on it")
            if self.restart_if_dead():
                done.append("the edge had died: started again on its configuration")
            if self.pid() is not None and self.hand_edited():
                self._serve(self.routes())
                done.append(f"{self.paths.conf} was edited by hand: rendered again from the routes")
        return done

    @contextmanager
    def _locked(self) -> Iterator[None]:
        settings.private_dir(self.routes_dir)
        fd = os.open(self.paths.prefix / "lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

"""Pure HAProxy configuration for the host's edge: every environment with domains, routed by name.

No I/O: `render_edge(routes, site, paths)` returns the whole haproxy.cfg and is tested by exact
output. A route is one environment's claim on (name, path) pairs and the upstream that serves them:
the live listener of its blue-green balancer (whose switch then is the release's switch), or the
replicas of a rolling or recreate environment. `claim_conflicts` is the rule that keeps two
environments off one name and path.

Each frontend picks one location per request, as nginx would (an exact path before the longest
prefix): `txn.loc` is set by every location that matches, in rising precedence, so the last match
wins; what a location does (serve from a backend, answer, redirect) is then keyed by its number.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PREVIEW_PREFIX = "preview."  # the preview colour of a blue-green environment: preview.<main domain>

# One JSON object per request on HAProxy's stdout (the access log), read by the agent's log
# forwarder (logs/edge_access.py): which environment answered (txn.app/txn.env, set by its
# locations), the status, the times in ms (`ut` -1: no server answered), and during a canary rollout
# which release answered (`track`: canary or stable).
ACCESS_FORMAT = ("'{\"t\":%Ts.%ms,\"app\":\"%[var(txn.app)]\",\"env\":\"%[var(txn.env)]\","
                 "\"host\":\"%[var(txn.host),json(utf8s)]\",\"method\":\"%HM\","
                 "\"uri\":\"%[capture.req.uri,json(utf8s)]\",\"proto\":\"%HV\",\"status\":%ST,"
                 "\"bytes\":%B,\"rt\":%Ta,\"ut\":%Tr,\"addr\":\"%ci\",\"ua\":\"%[capture.req.hdr(0),json(utf8s)]\","
                 "\"track\":\"%[var(txn.track)]\"}'")


@dataclass(frozen=True)
class EdgePaths:
    """Where the edge keeps its files: $DOCKYARD_HOME/edge/."""

    prefix: Path

    @property
    def conf(self) -> Path:
        return self.prefix / "haproxy.cfg"

    @property
    def pid(self) -> Path:
        return self.prefix / "haproxy.pid"

    @property
    def error_log(self) -> Path:
        return self.prefix / "error.log"

    @property
    def admin(self) -> Path:
        """The admin socket the next process takes the listening sockets from at a reload."""
        return self.prefix / "admin.sock"

    @property
    def weights(self) -> Path:
        """Each canary's share of its environment's requests (a map: route key -> weight; -1 cuts the
        canary off, testers too), read at a start and changed in the running process at once."""
        return self.prefix / "canary-weights.map"

    @property
    def logs(self) -> Path:
        return self.prefix / "logs"

    def access_log(self, started_ns: int) -> Path:
        """The access log of the process started then: its stdout. One file per process, because
        HAProxy makes its log descriptor non-blocking, which drops O_APPEND: two processes on one
        file would write over each other's lines. The agent's forwarder reads them in name order
        (logs/edge_source.ACCESS_FILES) and deletes each once its process has exited."""
        return self.logs / f"access-{started_ns:020d}.log"

    def certificate(self, name: str) -> Path:
        """The certificate chain and its key in one file, as HAProxy loads them (written by the Edge)."""
        return self.prefix / "tls" / f"{name}.pem"


@dataclass(frozen=True)
class EdgeSite:
    """Where the edge listens: site settings (80 and 443 on 127.0.0.1 until `edge configure --address`)."""

    address: str = "127.0.0.1"
    http_port: int = 80
    https_port: int = 443


def route_key(app: str, env: str) -> str:
    return f"{app}_{env}"


def url(site: EdgeSite, name: str, https: bool) -> str:
    """scheme://name[:port] of a name on the edge."""
    if https:
        return f"https://{name}" + ("" if site.https_port == 443 else f":{site.https_port}")
    return f"http://{name}" + ("" if site.http_port == 80 else f":{site.http_port}")


@dataclass(frozen=True)
class Claim:
    name: str
    path: str
    whole: bool = False  # every path of the name (a redirect, a preview name)

    def overlaps(self, other: Claim) -> bool:
        return self.name == other.name and (self.path == other.path or self.whole or other.whole)

    def meets(self, other: Claim) -> bool:
        """Across apps a name is one owner's, every path of it and every name under it (a page at
        admin.shop.example shares shop.example's cookies): the same name, or one a subdomain of the other."""
        return self.name == other.name or self.name.endswith("." + other.name) or \
            other.name.endswith("." + self.name)

    def __str__(self) -> str:
        return self.name if self.path == "/" else self.name + self.path


@dataclass(frozen=True)
class Canary:
    """A canary release beside the route's stable servers: `weight` percent of the requests of clients
    it has not seen go to it; one that saw it keeps it (a cookie, when `sticky`); a tester's header or
    cookie set to `always` reaches it at any weight, `never` keeps them on the stable release."""

    release: str
    servers: tuple[str, ...]
    weight: int = 0
    sticky: bool = True
    header: str = ""
    cookie: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Canary | None:
        if not data:
            return None
        return cls(str(data["release"]), tuple(data["servers"]), int(data.get("weight", 0)),
                   bool(data.get("sticky", True)), str(data.get("header") or ""), str(data.get("cookie") or ""))


@dataclass(frozen=True)
class EdgeRoute:
    app: str
    env: str
    domains: tuple[str, ...]  # the first is the main name
    servers: tuple[str, ...]  # host:port of what serves it (a balancer's live listener, or replicas)
    path: str = "/"
    redirects: dict[str, str] = field(default_factory=dict)  # name -> one of domains
    preview: tuple[str, ...] = ()  # host:port of the preview colour: served as preview.<main name>
    health: str | None = None  # the routed service's health path: it reaches the app during maintenance
    maintenance: str | None = None  # the message of the 503 page while in maintenance; None: serving
    tls: str = "off"  # off, acme, self-signed, installed (dockyard.yml)
    hsts: bool = False
    certificates: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (fullchain, key) files
    canary: Canary | None = None  # a canary rollout in progress: a share of the requests to its release

    @property
    def split(self) -> Canary | None:
        """The canary, while it has replicas to serve."""
        return self.canary if self.canary is not None and self.canary.servers else None

    @property
    def key(self) -> str:
        """app_env: names hold no '_', so no two environments share it (app a-b env c, app a env b-c)."""
        return route_key(self.app, self.env)

    @property
    def preview_name(self) -> str | None:
        return PREVIEW_PREFIX + self.domains[0] if self.preview and self.domains else None

    @property
    def names(self) -> list[str]:
        """Every name it answers: its domains, its redirects, its preview name."""
        return [*self.domains, *sorted(self.redirects), *([self.preview_name] if self.preview_name else [])]

    def urls(self, site: EdgeSite) -> list[str]:
        """Where users reach it: each domain (under its path), over HTTPS once it has a certificate."""
        path = "/" if self.path == "/" else self.path + "/"
        return [url(site, name, name in self.certificates) + path for name in self.domains]

    def claims(self) -> list[Claim]:
        """What this route answers: its domains under its path; a redirect or a preview name whole."""
        found = [Claim(name, self.path) for name in self.domains]
        found += [Claim(name, "/", whole=True) for name in self.redirects]
        if self.preview_name:
            found.append(Claim(self.preview_name, "/", whole=True))
        return found

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> EdgeRoute:
        data: dict[str, Any] = json.loads(text)
        return cls(app=data["app"], env=data["env"], domains=tuple(data["domains"]), servers=tuple(data["servers"]),
                   path=data.get("path", "/"), redirects=dict(data.get("redirects") or {}),
                   preview=tuple(data.get("preview") or ()), health=data.get("health"),
                   maintenance=data.get("maintenance"), tls=data.get("tls", "off"), hsts=bool(data.get("hsts")),
                   certificates={k: (v[0], v[1]) for k, v in (data.get("certificates") or {}).items()},
                   canary=Canary.from_json(data.get("canary")))


def claim_conflicts(route: EdgeRoute, others: list[EdgeRoute]) -> list[tuple[Claim, EdgeRoute]]:
    """(claim, owner) for each claim of `route` that another environment already holds: within an app,
    the same name and path; across apps, the same name at any path, or a name under the other's."""
    found = []
    for other in others:
        if (other.app, other.env) == (route.app, route.env):
            continue
        clash = Claim.overlaps if other.app == route.app else Claim.meets
        for mine in route.claims():
            if any(clash(mine, theirs) for theirs in other.claims()):
                found.append((mine, other))
    return found


def upstream_name(route: EdgeRoute, preview: bool = False) -> str:
    """app__env (names hold no '_'), with '-' as '_'; its preview colour's with '__preview'."""
    return re.sub(r"[^a-z0-9_]", "_", f"{route.app}__{route.env}{'__preview' if preview else ''}")


MAINTENANCE_PAGE = ("<!doctype html><html><head><title>Maintenance</title></head><body><h1>Down for "
                    "maintenance</h1><p>{message}</p></body></html>")
RETRY_AFTER = 120  # seconds, in the maintenance page's Retry-After

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
ANSWER = re.compile(r"[A-Za-z0-9_-]{16,128}\.[A-Za-z0-9_-]{16,128}")
URL_PATH = re.compile(r"/[A-Za-z0-9._~/%-]*")  # what goes into the configuration as a path


def quoted_page(page: str) -> str:
    """An HTML page as an HAProxy single-quoted string: taken verbatim (no escape, no variable),
    so it holds no quote and no control character."""
    return "'" + "".join(c if c.isprintable() else " " for c in page).replace("'", "&#39;") + "'"


@dataclass(frozen=True)
class Location:
    """What one (name, path) of a frontend does: an `http-request` rule or a `use_backend`."""

    name: str
    path: str  # "/" or "/api/": a prefix; else exact
    exact: bool
    action: str
    route: EdgeRoute | None = None  # whose requests these are, in the log and the metrics
    canary: str | None = None  # the canary's backend, for requests the split sends there

    def condition(self) -> str:
        host = f"{{ var(txn.host) -m str {self.name} }}"
        if self.exact:
            return f"{host} {{ path {self.path} }}"
        return host if self.path == "/" else f"{host} {{ path_beg {self.path} }}"


def _serve(route: EdgeRoute, upstream: str, servers: tuple[str, ...]) -> str:
    if servers:
        return f"use_backend {upstream}"
    return ("http-request return status 503 content-type text/plain "
            f'string "{route.app}/{route.env} has no replica to serve\\n"')


def _route_locations(name: str, path: str, route: EdgeRoute, upstream: str, servers: tuple[str, ...],
                     maintenance: bool = False, canary: str | None = None) -> list[Location]:
    where = "/" if path == "/" else path + "/"
    serve = _serve(route, upstream, servers)
    canary = canary if servers else None
    found = []
    if maintenance and route.maintenance is not None:
        health = (route.health or "") if path == "/" else f"{path}{route.health}"
        if route.health and servers and URL_PATH.fullmatch(health):  # the health check still reaches the app
            found.append(Location(name, health, True, serve, route, canary))
        page = quoted_page(MAINTENANCE_PAGE.format(message=html.escape(route.maintenance)))
        serve = f"http-request return status 503 content-type text/html hdr Retry-After {RETRY_AFTER} string {page}"
        canary = None
    found.append(Location(name, where, False, serve, route, canary))
    if path != "/":  # /api itself goes to /api/
        found.append(Location(name, path, True, f"http-request redirect code 308 location {path}/", route))
    return found


def _challenge_locations(name: str, challenges: dict[str, str]) -> list[Location]:
    """HTTP-01: the ACME CA fetches /.well-known/acme-challenge/TOKEN over HTTP; each answer is in
    the configuration itself (only well-formed tokens: they go into it verbatim)."""
    found = [Location(name, f"/.well-known/acme-challenge/{token}", True,
                      f'http-request return status 200 content-type text/plain string "{answer}"')
             for token, answer in sorted(challenges.items()) if TOKEN.fullmatch(token) and ANSWER.fullmatch(answer)]
    return [*found, Location(name, "/.well-known/acme-challenge/", False,
                             'http-request return status 404 content-type text/plain string "no such challenge\\n"')]


def _frontend(title: str, bind: str, proto: str, locations: list[Location], hsts: list[str],
              weights: Path) -> list[str]:
    lines = [f"frontend {title}", f"    bind {bind}",
             "    http-request capture req.hdr(user-agent) len 256",
             "    http-request set-var(txn.host) req.hdr(host),field(1,:),lower",
             # the first hop: what a client says came before it is not passed on
             "    http-request set-header X-Forwarded-For %[src]",
             f"    http-request set-header X-Forwarded-Proto {proto}"]
    ordered = sorted(locations, key=lambda loc: (loc.exact, len(loc.path)))  # the last match wins
    lines += [f"    http-request set-var(txn.loc) str({number}) if {loc.condition()}"
              for number, loc in enumerate(ordered, 1)]
    whose: dict[tuple[str, str], list[str]] = {}
    actions: dict[str, list[str]] = {}
    for number, loc in enumerate(ordered, 1):
        if loc.route is not None:
            whose.setdefault((loc.route.app, loc.route.env), []).append(str(number))
        actions.setdefault(loc.action, []).append(str(number))
    splits: dict[tuple[str, str], EdgeRoute] = {}
    for loc in ordered:
        if loc.route is not None and loc.route.split is not None:
            splits[(loc.route.app, loc.route.env)] = loc.route
    for (app, env), numbers in sorted(whose.items()):
        lines += [f"    http-request set-var(txn.app) str({app}) if {{ var(txn.loc) -m str {' '.join(numbers)} }}",
                  f"    http-request set-var(txn.env) str({env}) if {{ var(txn.loc) -m str {' '.join(numbers)} }}"]
        if (app, env) in splits:
            lines += _split_rules(splits[(app, env)], f"{{ var(txn.loc) -m str {' '.join(numbers)} }}", weights)
    # a name no route claims: 404, not somebody else's site
    lines.append('    http-request return status 404 content-type text/plain string "no site here\\n" '
                 "unless { var(txn.loc) -m found }")
    ranked = sorted(actions.items(), key=lambda item: (item[0].startswith("use_backend"), int(item[1][0])))
    to_canary = {loc.action: loc.canary for loc in ordered if loc.canary}
    for action, numbers in ranked:
        if action in to_canary:
            lines.append(f"    use_backend {to_canary[action]} if {{ var(txn.track) -m str canary }} "
                         f"{{ var(txn.loc) -m str {' '.join(numbers)} }}")
        lines.append(f"    {action} if {{ var(txn.loc) -m str {' '.join(numbers)} }}")
    for route in splits.values():
        lines += _sticky_cookie(route)
    if hsts:
        lines.append('    http-after-response set-header Strict-Transport-Security "max-age=31536000" '
                     f"if {{ var(txn.host) -m str {' '.join(hsts)} }}")
    return lines


def canary_name(route: EdgeRoute) -> str:
    return upstream_name(route) + "__canary"


def sticky_cookie(route: EdgeRoute) -> str:
    """The cookie that keeps a client on the canary it saw: one per environment, its value the release."""
    return f"dyc_{route.key}"


def canary_weights(routes: list[EdgeRoute]) -> str:
    """The weights map the configuration reads (EdgePaths.weights): a line per canary."""
    return "".join(f"{r.key} {r.split.weight}\n" for r in sorted(routes, key=lambda r: r.key) if r.split is not None)


def _split_rules(route: EdgeRoute, mine: str, weights: Path) -> list[str]:
    """Which release answers a request of the route (txn.track), set in rising precedence: the dice
    by weight, then a client's sticky cookie, then a tester's header or cookie (always/never). The
    weight is read from the weights map, so a step or an abort changes it in the running process
    (Edge.weigh_canary) with no reload; -1 there cuts everybody off the canary at once."""
    canary = route.split
    assert canary is not None
    on = "{ var(txn.weight) -m int ge 0 }"

    def track(which: str) -> str:
        return f"    http-request set-var(txn.track) str({which}) if {mine}"

    lines = [track("stable"),
             f"    http-request set-var(txn.weight) str({route.key}),map_str_int({weights},-1) if {mine}",
             track("canary") + " { rand(100),sub(txn.weight) -m int lt 0 }"]
    if canary.sticky:
        lines.append(track("canary") + f" {on} {{ req.cook({sticky_cookie(route)}) -m str {canary.release} }}")
    for fetch in ((f"req.hdr({canary.header})",) if canary.header else ()) + \
            ((f"req.cook({canary.cookie})",) if canary.cookie else ()):
        lines += [track("canary") + f" {on} {{ {fetch} -m str always }}",
                  track("stable") + f" {{ {fetch} -m str never }}"]
    if canary.sticky:  # said once: a client with the cookie is not told again
        lines.append(f"    http-request set-var(txn.stuck) str(yes) if {mine} "
                     f"{{ req.cook({sticky_cookie(route)}) -m str {canary.release} }}")
    return lines


def _sticky_cookie(route: EdgeRoute) -> list[str]:
    canary = route.split
    if canary is None or not canary.sticky:
        return []
    return [f'    http-after-response add-header Set-Cookie "{sticky_cookie(route)}={canary.release}; Path=/; '
            'Max-Age=86400; HttpOnly; SameSite=Lax" if { var(txn.track) -m str canary } !{ var(txn.stuck) -m found } '
            f"{{ var(txn.app) -m str {route.app} }} {{ var(txn.env) -m str {route.env} }}"]


def _backend(name: str, servers: tuple[str, ...]) -> list[str]:
    return [f"backend {name}", *(f"    server {server} {server}" for server in servers)]


def render_edge(routes: list[EdgeRoute], site: EdgeSite, paths: EdgePaths,
                challenges: dict[str, str] | None = None) -> str:
    """The edge's haproxy.cfg; `challenges`: the ACME HTTP-01 answers of an order in progress."""
    ordered = sorted(routes, key=lambda r: r.key)
    owners: dict[str, list[EdgeRoute]] = {}
    for route in ordered:
        for name in route.names:
            owners.setdefault(name, []).append(route)
    certificates = {name: paths.certificate(name) for name, mine in owners.items()
                    if any(name in r.certificates for r in mine)}

    def body(name: str, https: bool) -> list[Location]:
        """What a name answers over one scheme, once it is known to be served there."""
        found: list[Location] = []
        for route in owners[name]:
            if name in route.domains:
                found += _route_locations(name, route.path, route, upstream_name(route), route.servers,
                                          maintenance=True, canary=canary_name(route) if route.split else None)
            elif name in route.redirects:
                found.append(Location(name, "/", False, "http-request redirect code 308 prefix "
                                      + url(site, route.redirects[name], https), route))
            else:  # its preview name
                found += _route_locations(name, "/", route, upstream_name(route, preview=True), route.preview)
        return found

    plain: list[Location] = []
    secure: list[Location] = []
    for name in sorted(owners):
        mine = owners[name]
        if any(r.tls == "acme" for r in mine):
            plain += _challenge_locations(name, challenges or {})
        if name not in certificates:
            plain += body(name, https=False)
            continue
        secure += body(name, https=True)
        plain.append(Location(name, "/", False, "http-request redirect code 308 prefix " + url(site, name, https=True),
                              mine[0] if len(mine) == 1 else None))
    lines = [
        "# Generated by Dockyard for this host's edge: do not edit, every change of a route rewrites it.",
        "global",
        f"    stats socket {paths.admin} mode 600 level admin expose-fd listeners",
        "    hard-stop-after 60s",  # what an old process still holds 60 s after a reload is closed
        # one thread: HAProxy drops a log line rather than wait when two threads write one at once,
        # and every request must reach the access log (one thread serves well over 10k requests/s)
        "    nbthread 1",
        "    log stdout format raw daemon",
        "defaults",
        "    mode http",
        "    log global",
        f"    log-format {ACCESS_FORMAT}",
        "    option http-keep-alive",
        # at a reload, an old process closes an idle kept-alive connection after its next response
        "    option idle-close-on-response",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 10s",
        # an idle kept-alive connection keeps an old process (and its replicas) after a reload: short
        "    timeout http-keep-alive 10s",
        # a replica that refuses the connection: the request goes to another (it never reached one)
        "    retries 3",
        "    option redispatch 1",
        "    retry-on conn-failure",
    ]
    lines += _frontend("http", f"{site.address}:{site.http_port}", "http", plain, [], paths.weights)
    if certificates:  # TLS 1.2 and newer only; a name with no certificate gets no handshake
        hsts = sorted(name for name in certificates if any(r.hsts for r in owners[name]))
        crts = " ".join(f"crt {certificates[name]}" for name in sorted(certificates))
        lines += _frontend("https", f"{site.address}:{site.https_port} ssl strict-sni ssl-min-ver TLSv1.2 {crts}",
                           "https", secure, hsts, paths.weights)
    for route in ordered:
        if route.servers:
            lines += _backend(upstream_name(route), route.servers)
        if route.preview:
            lines += _backend(upstream_name(route, preview=True), route.preview)
        if route.split is not None and route.servers:
            lines += _backend(canary_name(route), route.split.servers)
    return "\n".join(lines) + "\n"

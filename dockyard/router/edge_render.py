"""Pure nginx configuration for the host's edge: every environment with domains, routed by name.

No I/O: `render_edge(routes, site, paths)` returns the whole nginx.conf and is tested by exact
output. A route is one environment's claim on (name, path) pairs and the upstream that serves them:
the live listener of its blue-green balancer (whose switch then is the release's switch), or the
replicas of a rolling or recreate environment. `claim_conflicts` is the rule that keeps two
environments off one name and path.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dockyard.router.render import RouterPaths

PREVIEW_PREFIX = "preview."  # the preview colour of a blue-green environment: preview.<main domain>

# One JSON object per request, read by the agent's log forwarder (logs/edge_access.py): which
# environment answered ($dockyard_app/$dockyard_env, set in each of its locations), the status and
# the upstream's time, for the per-environment metrics and the log store.
ACCESS_FORMAT = ("'{\"t\":$msec,\"app\":\"$dockyard_app\",\"env\":\"$dockyard_env\",\"host\":\"$host\","
                 "\"method\":\"$request_method\",\"uri\":\"$request_uri\",\"proto\":\"$server_protocol\","
                 "\"status\":$status,\"bytes\":$body_bytes_sent,\"rt\":$request_time,"
                 "\"ut\":\"$upstream_response_time\",\"addr\":\"$remote_addr\",\"ua\":\"$http_user_agent\"}'")


# `set` is what declares the log's variables to nginx: here for a configuration with no route yet
NO_ENVIRONMENT = ['        set $dockyard_app "";', '        set $dockyard_env "";']


def access_log(paths: RouterPaths) -> Path:
    """The edge's access log; the forwarder renames it to access.log.1 to rotate it."""
    return paths.prefix / "logs" / "access.log"


@dataclass(frozen=True)
class EdgeSite:
    """Where the edge listens: site settings (80 and 443 on every address by default)."""

    address: str = "0.0.0.0"
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

    def __str__(self) -> str:
        return self.name if self.path == "/" else self.name + self.path


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
                   certificates={k: (v[0], v[1]) for k, v in (data.get("certificates") or {}).items()})


def claim_conflicts(route: EdgeRoute, others: list[EdgeRoute]) -> list[tuple[Claim, EdgeRoute]]:
    """(claim, owner) for each claim of `route` that another environment already holds."""
    found = []
    for other in others:
        if (other.app, other.env) == (route.app, route.env):
            continue
        for mine in route.claims():
            if any(mine.overlaps(theirs) for theirs in other.claims()):
                found.append((mine, other))
    return found


def upstream_name(route: EdgeRoute, preview: bool = False) -> str:
    """app__env (names hold no '_'), with '-' as '_'; its preview colour's with '__preview'."""
    return re.sub(r"[^a-z0-9_]", "_", f"{route.app}__{route.env}{'__preview' if preview else ''}")


def _upstream(name: str, servers: tuple[str, ...]) -> list[str]:
    lines = [f"    upstream {name} {{"]
    lines += [f"        server {server} max_fails=1 fail_timeout=2s;" for server in servers]
    lines += ["        keepalive 16;", "    }"]
    return lines


MAINTENANCE_PAGE = ("<!doctype html><html><head><title>Maintenance</title></head><body><h1>Down for "
                    "maintenance</h1><p>{message}</p></body></html>")
RETRY_AFTER = 120  # seconds, in the maintenance page's Retry-After


def nginx_text(page: str) -> str:
    """An HTML page as the inside of an nginx double-quoted string: no variable ($ as its HTML
    entity), no control character, backslashes and quotes escaped."""
    plain = "".join(c if c.isprintable() else " " for c in page).replace("$", "&#36;")
    return plain.replace("\\", "\\\\").replace('"', '\\"')


def _whose(route: EdgeRoute) -> list[str]:
    """The environment a location's requests are logged and counted for (names are [a-z0-9-])."""
    return [f"            set $dockyard_app {route.app};", f"            set $dockyard_env {route.env};"]


def _location(path: str, route: EdgeRoute, upstream: str, servers: tuple[str, ...],
              maintenance: bool = False) -> list[str]:
    where = "/" if path == "/" else path + "/"
    proxy = [*_whose(route), f"            proxy_pass http://{upstream};"] if servers else \
        [*_whose(route), f'            return 503 "{route.app}/{route.env} has no replica to serve\\n";']
    lines = []
    if maintenance and route.maintenance is not None:
        if route.health and servers:  # the health check still reaches the app
            health = route.health if path == "/" else path + route.health
            lines += [f"        location = {health} {{", *proxy, "        }"]
        page = nginx_text(MAINTENANCE_PAGE.format(message=html.escape(route.maintenance)))
        proxy = [*_whose(route), "            default_type text/html;",
                 f"            add_header Retry-After {RETRY_AFTER} always;", f'            return 503 "{page}\\n";']
    lines += [f"        location {where} {{", *proxy, "        }"]
    if path != "/":  # /api itself goes to /api/
        lines += [f"        location = {path} {{", *_whose(route), f"            return 308 {path}/;", "        }"]
    return lines


def _server(site: EdgeSite, name: str, body: list[str]) -> list[str]:
    return ["    server {", f"        listen {site.address}:{site.http_port};", f"        server_name {name};",
            *body, "    }"]


TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
ANSWER = re.compile(r"[A-Za-z0-9_-]{16,128}\.[A-Za-z0-9_-]{16,128}")


def render_edge(routes: list[EdgeRoute], site: EdgeSite, paths: RouterPaths,
                challenges: dict[str, str] | None = None) -> str:
    """The edge's nginx.conf; `challenges`: the ACME HTTP-01 answers of an order in progress."""
    temp = paths.temp
    ordered = sorted(routes, key=lambda r: r.key)
    lines = [
        "# Generated by Dockyard for this host's edge: do not edit, every change of a route rewrites it.",
        "worker_processes auto;",
        f"pid {paths.pid};",
        f"error_log {paths.error_log} notice;",
        "worker_shutdown_timeout 60s;",
        "events {",
        "    worker_connections 4096;",
        "}",
        "http {",
        f"    log_format dockyard_edge escape=json {ACCESS_FORMAT};",
        # buffered: one write per 64 KiB or per second, not one per request
        f"    access_log {access_log(paths)} dockyard_edge buffer=64k flush=1s;",
        "    uninitialized_variable_warn off;",  # $dockyard_app outside an environment's locations
        "    server_tokens off;",
        # as the balancers: a reload must not reset a kept-alive client connection
        "    keepalive_timeout 0;",
        "    server_names_hash_bucket_size 128;",
        *(f"    {kind}_temp_path {temp / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
        "    proxy_http_version 1.1;",
        '    proxy_set_header Connection "";',
        "    proxy_set_header Host $http_host;",
        # the first hop: what a client says came before it is not passed on
        "    proxy_set_header X-Forwarded-For $remote_addr;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_connect_timeout 2s;",
        "    proxy_read_timeout 60s;",
        "    proxy_next_upstream error timeout http_502 http_503;",
        "    proxy_next_upstream_tries 3;",
    ]
    for route in ordered:
        if route.servers:
            lines += _upstream(upstream_name(route), route.servers)
        if route.preview:
            lines += _upstream(upstream_name(route, preview=True), route.preview)
    secure = any(route.certificates for route in ordered)
    if secure:  # TLS 1.2 and newer only
        lines += ["    ssl_protocols TLSv1.2 TLSv1.3;", "    ssl_session_cache shared:dockyard_edge:10m;",
                  "    ssl_session_timeout 1h;"]
    # a name no route claims: 404 (and over HTTPS, no handshake), not somebody else's site
    lines += ["    server {", f"        listen {site.address}:{site.http_port} default_server;",
              "        server_name _;", *NO_ENVIRONMENT, '        return 404 "no site here\\n";', "    }"]
    if secure:
        lines += ["    server {", f"        listen {site.address}:{site.https_port} ssl default_server;",
                  "        server_name _;", "        ssl_reject_handshake on;", "    }"]
    bodies: dict[str, list[str]] = {}
    owners: dict[str, list[EdgeRoute]] = {}
    by_name: dict[str, list[EdgeRoute]] = {}
    for route in ordered:
        for name in route.domains:
            by_name.setdefault(name, []).append(route)
    for name, routes_of_name in by_name.items():
        owners[name] = routes_of_name
        bodies[name] = [line for route in sorted(routes_of_name, key=lambda r: r.path, reverse=True)
                        for line in _location(route.path, route, upstream_name(route), route.servers,
                                              maintenance=True)]
    for route in ordered:
        for source in route.redirects:
            owners[source] = [route]
            port = "" if (site.http_port, site.https_port) == (80, 443) else ":$server_port"
            bodies[source] = ["        location / {",  # a location: the ACME challenge's comes first
                              *_whose(route), f"            return 308 $scheme://{route.redirects[source]}{port}$request_uri;",
                              "        }"]
        if route.preview_name:
            owners[route.preview_name] = [route]
            bodies[route.preview_name] = _location("/", route, upstream_name(route, preview=True), route.preview)
    for name in sorted(bodies):
        mine = owners[name]
        cert = next((r.certificates[name] for r in mine if name in r.certificates), None)
        challenge = _acme_challenge(challenges or {}) if any(r.tls == "acme" for r in mine) else []
        if cert is None:
            lines += _server(site, name, [*challenge, *bodies[name]])
            continue
        hsts = ['        add_header Strict-Transport-Security "max-age=31536000" always;'] \
            if any(r.hsts for r in mine) else []
        lines += ["    server {", f"        listen {site.address}:{site.https_port} ssl;",
                  f"        server_name {name};", f"        ssl_certificate {cert[0]};",
                  f"        ssl_certificate_key {cert[1]};", *hsts, *bodies[name], "    }"]
        lines += _server(site, name, [*challenge, "        location / {", *(_whose(mine[0]) if len(mine) == 1 else []),
                                      f"            return 308 {url(site, name, https=True)}$request_uri;",
                                      "        }"])
    lines.append("}")
    return "\n".join(lines) + "\n"


def _acme_challenge(challenges: dict[str, str]) -> list[str]:
    """HTTP-01: the ACME CA fetches /.well-known/acme-challenge/TOKEN over HTTP; each answer is in
    the configuration itself (only well-formed tokens: they go into it verbatim)."""
    lines = []
    for token, answer in sorted(challenges.items()):
        if TOKEN.fullmatch(token) and ANSWER.fullmatch(answer):
            lines += [f"        location = /.well-known/acme-challenge/{token} {{",
                      "            default_type text/plain;", f'            return 200 "{answer}";', "        }"]
    return [*lines, "        location ^~ /.well-known/acme-challenge/ {", "            return 404;", "        }"]

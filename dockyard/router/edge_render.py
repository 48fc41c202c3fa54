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
from typing import Any

from dockyard.router.render import RouterPaths

PREVIEW_PREFIX = "preview."  # the preview colour of a blue-green environment: preview.<main domain>


@dataclass(frozen=True)
class EdgeSite:
    """Where the edge listens: site settings (80 and 443 on every address by default)."""

    address: str = "0.0.0.0"
    http_port: int = 80


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

    @property
    def key(self) -> str:
        return f"{self.app}-{self.env}"

    @property
    def preview_name(self) -> str | None:
        return PREVIEW_PREFIX + self.domains[0] if self.preview and self.domains else None

    def urls(self, site: EdgeSite) -> list[str]:
        """Where users reach it: each domain (under its path) on the edge's HTTP port."""
        port = "" if site.http_port == 80 else f":{site.http_port}"
        path = "/" if self.path == "/" else self.path + "/"
        return [f"http://{name}{port}{path}" for name in self.domains]

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
                   maintenance=data.get("maintenance"))


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


def _location(path: str, route: EdgeRoute, upstream: str, servers: tuple[str, ...],
              maintenance: bool = False) -> list[str]:
    where = "/" if path == "/" else path + "/"
    proxy = [f"            proxy_pass http://{upstream};"] if servers else \
        [f'            return 503 "{route.app}/{route.env} has no replica to serve\\n";']
    lines = []
    if maintenance and route.maintenance is not None:
        if route.health and servers:  # the health check still reaches the app
            health = route.health if path == "/" else path + route.health
            lines += [f"        location = {health} {{", *proxy, "        }"]
        page = nginx_text(MAINTENANCE_PAGE.format(message=html.escape(route.maintenance)))
        proxy = ["            default_type text/html;", f"            add_header Retry-After {RETRY_AFTER} always;",
                 f'            return 503 "{page}\\n";']
    lines += [f"        location {where} {{", f"            # {route.app}/{route.env}", *proxy, "        }"]
    if path != "/":  # /api itself goes to /api/
        lines += [f"        location = {path} {{", f"            return 308 {path}/;", "        }"]
    return lines


def _server(site: EdgeSite, name: str, body: list[str]) -> list[str]:
    return ["    server {", f"        listen {site.address}:{site.http_port};", f"        server_name {name};",
            *body, "    }"]


def render_edge(routes: list[EdgeRoute], site: EdgeSite, paths: RouterPaths) -> str:
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
        "    access_log off;",
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
    # a name no route claims: 404, not somebody else's site
    lines += ["    server {", f"        listen {site.address}:{site.http_port} default_server;",
              "        server_name _;", '        return 404 "no site here\\n";', "    }"]
    by_name: dict[str, list[tuple[str, EdgeRoute]]] = {}
    for route in ordered:
        for name in route.domains:
            by_name.setdefault(name, []).append((route.path, route))
    for name in sorted(by_name):
        body: list[str] = []
        for path, route in sorted(by_name[name], key=lambda item: item[0], reverse=True):
            body += _location(path, route, upstream_name(route), route.servers, maintenance=True)
        lines += _server(site, name, body)
    for route in ordered:
        main = route.domains[0] if route.domains else None
        for source in sorted(route.redirects):
            lines += _server(site, source, [f"        return 308 $scheme://{route.redirects[source]}$request_uri;"])
        if route.preview_name and main:
            lines += _server(site, route.preview_name,
                            _location("/", route, upstream_name(route, preview=True), route.preview))
    lines.append("}")
    return "\n".join(lines) + "\n"

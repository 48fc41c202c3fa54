"""What the host's edge serves, as its files say: each environment's route ($DOCKYARD_HOME/edge/
routes/*.json) and where the edge listens (site settings). For the reads that only look (`ps`,
`status`, the overview): none of the edge's process machinery (router/edge.py), which extends it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard import settings

if TYPE_CHECKING:  # loaded when a route is read: a host without an edge pays nothing for it
    from dockyard.router.edge_render import EdgeRoute, EdgeSite


def edge_dir(home: Path | None = None) -> Path:
    return (home or settings.home()) / "edge"


def site_settings(site: settings.Settings | None = None) -> EdgeSite:
    from dockyard.router.edge_render import EdgeSite

    if site is None:
        address, http_port, https_port = settings.edge_address()
        return EdgeSite(address=address, http_port=http_port, https_port=https_port)
    return EdgeSite(address=site.edge.address, http_port=site.edge.http_port, https_port=site.edge.https_port)


def _ignore(_line: str) -> None:
    return None


class EdgeRoutes:
    def __init__(self, home: Path | None = None, site: EdgeSite | None = None,
                 report: Callable[[str], None] = _ignore) -> None:
        self.routes_dir = edge_dir(home) / "routes"
        self._site = site
        self.report = report

    @property
    def site(self) -> EdgeSite:
        """Where the edge listens (site settings), read when first asked."""
        if self._site is None:
            self._site = site_settings()
        return self._site

    def routes(self) -> list[EdgeRoute]:
        paths = sorted(self.routes_dir.glob("*.json"))
        if not paths:
            return []
        from dockyard.router.edge_render import EdgeRoute

        found = []
        for path in paths:
            try:
                found.append(EdgeRoute.from_json(path.read_text()))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self.report(f"ignored the unreadable edge route {path}: {exc}")
        return found

    def route(self, app: str, env: str) -> EdgeRoute | None:
        return next((r for r in self.routes() if (r.app, r.env) == (app, env)), None)

    def public_urls(self, app: str) -> dict[str, list[str]]:
        """env -> the URLs the edge serves it on."""
        return {r.env: r.urls(self.site) for r in self.routes() if r.app == app}

    def env_urls(self, app: str, env: str) -> dict[str, list[str]]:
        """The URLs the edge serves the environment on: live ones, and the preview's own name."""
        route = self.route(app, env)
        if route is None:
            return {"live": [], "preview": []}
        port = "" if self.site.http_port == 80 else f":{self.site.http_port}"
        return {"live": route.urls(self.site),
                "preview": [f"http://{route.preview_name}{port}/"] if route.preview_name else []}

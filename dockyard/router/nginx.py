"""The nginx balancer of one (app, environment): an NginxProcess whose configuration is rendered
from a RouterState (render.py) and carries it as its state line.

Files live under $DOCKYARD_HOME/router/<app>_<env>/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from dockyard import settings
from dockyard.router.nginx_proc import NGINX, NginxProcess, Report, RouterError
from dockyard.router.render import RouterPaths, RouterState, parse_state, render

__all__ = ["NGINX", "NginxRouter", "RouterError", "parse_state_file", "router_dir"]


def router_dir(app: str, env: str, home: Path | None = None) -> Path:
    """router/APP_ENV ('_' is in no name, issue 28); a balancer made before keeps its router/APP-ENV
    while that folder's own configuration says it is this app's environment."""
    root = (home or settings.home()) / "router"
    current, legacy = root / f"{app}_{env}", root / f"{app}-{env}"
    if not current.exists() and legacy.exists():
        state = parse_state_file(legacy / "nginx.conf")
        if state is not None and (state.app, state.env) == (app, env):
            return legacy
    return current


def parse_state_file(conf: Path) -> RouterState | None:
    try:
        return parse_state(conf.read_text())
    except OSError:
        return None


class NginxRouter(NginxProcess):
    what = "balancer"
    port_hint = "free the port, or give the environment other router ports in dockyard.yml"

    def __init__(self, app: str, env: str, home: Path | None = None, binary: str = NGINX,
                 report: Report = lambda _line: None) -> None:
        super().__init__(RouterPaths(router_dir(app, env, home)), f"{app}/{env}", binary, report)
        self.app, self.env = app, env

    def ports(self) -> tuple[int, ...]:
        state = self.current()
        return (state.live_port, state.preview_port) if state else ()

    # facts ---------------------------------------------------------------
    def current(self) -> RouterState | None:
        """The state the balancer's configuration on disk was rendered from."""
        return parse_state_file(self.paths.conf)

    def hand_edited(self) -> bool:
        """The configuration on disk is not what its state line renders to: someone edited it."""
        state = self.current()
        try:
            return state is not None and self.paths.conf.read_text() != render(state, self.paths)
        except OSError:
            return False

    # changes -------------------------------------------------------------
    def apply(self, state: RouterState, wait: float = 5.0) -> float:
        """Make the balancer serve `state`: check, replace, reload (or start). Seconds it took."""
        return self.serve(render(state, self.paths), wait)

    def remove(self, timeout: float = 10.0) -> bool:
        """Stop the balancer and delete its files (an environment taken down). False if it had none."""
        if not self.paths.prefix.exists():
            return False
        self.stop(timeout)
        shutil.rmtree(self.paths.prefix, ignore_errors=True)
        return True

    @classmethod
    def at(cls, prefix: Path, report: Report = lambda _line: None) -> NginxRouter | None:
        """The balancer whose files are in `prefix`, named by its configuration's state line."""
        state = parse_state_file(prefix / "nginx.conf")
        if state is None:
            return None
        router = cls(state.app, state.env, report=report)
        router.paths = RouterPaths(prefix)
        return router

"""A throwaway blue-green app (busybox httpd that answers with its release) and its cleanup."""

from __future__ import annotations

import textwrap
from pathlib import Path

import docker

from dockyard.router.nginx import NginxRouter
from tests.apps import TestApp, make_app
from tests.conftest import remove_app_resources
from tests.ports import free_port

RELEASE_CGI = """\
#!/bin/sh
echo "Content-Type: text/plain"
echo
echo "$DOCKYARD_RELEASE $DOCKYARD_COLOR"
"""


def bg_spec(app: str, live: int, preview: int, window: str = "5m", replicas: int = 2) -> str:
    return textwrap.dedent(f"""\
        app: {app}
        registries: {{local: 127.0.0.1:5000}}
        services:
          web:
            command: [httpd, -f, -p, "8080", -h, /www]
            port: 8080
            health: {{path: /health, interval: 100ms, timeout: 1s, start_period: 6s}}
            replicas: {replicas}
            resources: {{cpus: 0.5, memory: 32m}}
            stop_grace: 2s
        config:
          required: [GREETING]
          files: {{/etc/app/app.conf: app.conf.j2}}
        tests:
          smoke: {{run: [sh, -c, 'wget -qO- "$TARGET_URL/smoke" && wget -qO- "$TARGET_URL/cgi-bin/release"'],
                   timeout: 20s}}
        environments:
          production:
            engine: local
            registry: local
            strategy: blue-green
            tests: [smoke]
            router: {{live: {live}, preview: {preview}, rollback_window: {window}}}
        """)


def make_bg_app(root: Path, window: str = "5m", replicas: int = 2) -> tuple[TestApp, int, int]:
    app = make_app(root)
    live, preview = free_port(), free_port()
    app.write("dockyard.yml", bg_spec(app.name, live, preview, window, replicas))
    app.write("www/cgi-bin/release", RELEASE_CGI)
    app.write("www/smoke", "smoke ok\n")
    app.commit("blue-green")
    return app, live, preview


def cleanup(client: docker.DockerClient, app: TestApp, home: Path) -> None:
    """Stop the app's balancers (by the pid in their own pid files) and remove its containers."""
    for env in ("production",):
        NginxRouter(app.name, env, home=home).stop(timeout=5)
    remove_app_resources(client, app.name)

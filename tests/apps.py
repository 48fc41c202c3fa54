"""Throwaway apps for integration tests: a real git repo with a FROM-scratch busybox HTTP service.

Names are random so tests never depend on the example app and never collide with each other.
"""

from __future__ import annotations

import secrets
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

DOCKERFILE = """\
FROM dockyard/busybox:1.35
COPY www /www
RUN ["/bin/sh", "-c", "chmod 755 /www/cgi-bin/*"]
USER 65534:65534
"""

ENV_CGI = """\
#!/bin/sh
echo "Content-Type: text/plain"
echo
env | sort | grep -v '^SERVER_\\|^HTTP_\\|^REMOTE_\\|^GATEWAY\\|^QUERY\\|^REQUEST\\|^SCRIPT\\|^PATH_INFO'
for f in /etc/app/*.conf; do [ -f "$f" ] && echo "file $f: $(cat $f)"; done
ls /run/secrets 2>/dev/null | sed 's/^/secret-file /'
"""

LOG_CGI = """\
#!/bin/sh
echo "Content-Type: text/plain"
echo
echo "logged $QUERY_STRING"
echo "logged $QUERY_STRING" >&2
"""


def spec_text(app: str, replicas: int = 2, health_path: str = "/health", extra_envs: str = "",
              required: str = "[GREETING]", secrets_mode: str = "file") -> str:
    return textwrap.dedent(f"""\
        app: {app}
        registries: {{local: 127.0.0.1:5000, remote: 127.0.0.1:5001}}
        services:
          web:
            command: [httpd, -f, -p, "8080", -h, /www]
            port: 8080
            health: {{path: {health_path}, interval: 200ms, timeout: 1s, start_period: 8s}}
            replicas: {replicas}
            resources: {{cpus: 0.2, memory: 32m}}
        config:
          required: {required}
          files: {{/etc/app/app.conf: app.conf.j2}}
          secrets: {secrets_mode}
        tests:
          unit: {{run: [sh, -c, "test -f /www/health && echo unit ok"]}}
          smoke: {{run: [sh, -c, 'wget -qO- "$TARGET_URL/health" | grep -q ok && echo smoke ok']}}
        environments:
          testing: {{engine: local, registry: local, tests: [unit, smoke]}}
          staging: {{engine: local, registry: remote, strategy: recreate, tests: [smoke], promote: manual}}
          production: {{engine: local, registry: remote}}
        """) + extra_envs


@dataclass
class TestApp:
    __test__ = False
    name: str
    path: Path

    @property
    def spec_file(self) -> Path:
        return self.path / "dockyard.yml"

    def git(self, *args: str) -> str:
        result = subprocess.run(["git", "-C", str(self.path), *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)} failed in {self.path}: {result.stderr.strip()}")
        return result.stdout.strip()

    def write(self, rel: str, text: str) -> None:
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-qm", message)
        return self.git("rev-parse", "HEAD")


def make_app(root: Path, **spec_options: object) -> TestApp:
    name = "t" + secrets.token_hex(4)
    app = TestApp(name=name, path=root / name)
    app.path.mkdir(parents=True)
    app.write("Dockerfile", DOCKERFILE)
    app.write("www/health", "ok\n")
    app.write("www/index.html", "v1\n")
    app.write("www/cgi-bin/env", ENV_CGI)
    app.write("www/cgi-bin/log", LOG_CGI)  # writes its query string to the container's stderr
    app.write("app.conf.j2", "greeting={{ GREETING }}\n")
    app.write("dockyard.yml", spec_text(name, **spec_options))  # type: ignore[arg-type]
    app.git("init", "-q", "-b", "main")
    app.git("config", "user.email", "test@example.invalid")
    app.git("config", "user.name", "test")
    app.commit("initial")
    return app

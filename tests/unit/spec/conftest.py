from __future__ import annotations

import pytest

FULL = """\
app: shop-api
build: {context: ., dockerfile: Dockerfile, args: {VERSION: 1.2}}
registries: {local: 127.0.0.1:5000, remote: 127.0.0.1:5001/team}
services:
  web:
    command: [httpd, -f, -p, 8080]
    port: 8080
    health: {path: /health, interval: 500ms, timeout: 2s, retries: 3, start_period: 30s}
    replicas: 2
    resources: {cpus: 0.5, memory: 128m}
    user: "65534:65534"
    env: {LOG_LEVEL: info, WORKERS: 4, DEBUG: false}
  worker:
    command: "sh -c 'sleep 1d'"
config:
  required: [DB_HOST, DB_PASSWORD]
  files: {/etc/app/app.conf: deploy/app.conf.j2}
  secrets: env
tests:
  unit: {run: [sh, /app/test.sh], timeout: 60s, kind: image}
  smoke: {run: "wget -qO- $TARGET_URL/health"}
  lint: {run: [sh, /app/lint.sh]}
environments:
  testing:    {engine: local, registry: local, strategy: rolling, tests: [unit, smoke], promote: auto}
  staging:    {engine: tls-host, registry: remote, strategy: blue-green, tests: [smoke], promote: manual,
               router: {live: 8000, preview: 8001}}
  production: {engine: swarm, strategy: blue-green, router: {live: 8000, preview: 8001},
               scaling: {web: {min: 2, max: 10, cpu_target: 60}}, replicas: {web: 3, worker: 0}}
"""


@pytest.fixture
def full_text() -> str:
    """The example from the design, with the router blue-green needs added to staging."""
    return FULL

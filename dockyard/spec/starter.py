"""The commented dockyard.yml that 'dockyard init' writes: it documents every key by example.

Block style only, so the one placeholder '{app}' can be filled with str.format.
"""

from __future__ import annotations

import re

from dockyard.errors import UsageError

STARTER_SPEC = """\
# dockyard.yml: how {app} is built, tested and deployed, from one image.
# Durations: 500ms, 1s, 2m, 1h or a number of seconds.
# Sizes: 512k, 128m, 1g or a number of bytes.

# The app name: lowercase letters, digits and '-'. Used in container names and image repos.
app: {app}

# How the image is built; paths are relative to this file.
build:
  context: .
  dockerfile: Dockerfile
  # args:                       # --build-arg values
  #   VERSION: "1.0"

# Registries images are pushed to, by name: host[:port][/path-prefix].
# An environment uses the first one unless it names another. Remove them all to never push.
registries:
  local: 127.0.0.1:5000
  # remote: 127.0.0.1:5001

# The processes of the app; each runs from the same image.
services:
  web:
    # The command; a list, or one string split like a shell would. Default: the image's CMD.
    # command: [httpd, -f, -p, "8080", -h, /www]
    # The port the process listens on in the container; published on 127.0.0.1.
    port: 8080
    # An HTTP GET on that port; a new container takes traffic only once it answers 2xx.
    health:
      path: /health
      interval: 1s
      timeout: 2s
      retries: 3
      start_period: 60s
    # How many containers; an environment can override it under 'replicas'.
    replicas: 1
    resources:
      cpus: 0.5
      memory: 128m
    # The user the process runs as. Default: a non-root user.
    # user: "65534:65534"
    # Fixed environment variables; values that differ per environment go in 'dockyard config set'.
    env:
      LOG_LEVEL: info

# Configuration kept by Dockyard per environment (dockyard config set ENV KEY=VALUE).
config:
  # Keys that must be set before a deploy starts, e.g. [DB_HOST, DB_PASSWORD].
  required: []
  # Files rendered from Jinja2 templates with the config: target path in the container -> template.
  # files:
  #   /etc/app/app.conf: deploy/app.conf.j2
  # Secrets arrive as files under /run/secrets/KEY ("file") or as environment variables ("env").
  secrets: file

# Tests a release must pass in an environment before it is promoted to the next one.
tests:
  # A test that mentions TARGET_URL runs against the deployed environment (kind: endpoint);
  # any other runs inside the built image (kind: image). A string runs with 'sh -c'.
  # unit:
  #   run: [sh, /app/test.sh]
  smoke:
    run: wget -qO- $TARGET_URL/health
    timeout: 30s

# Environments in promotion order: a release moves from one to the next, never rebuilt.
environments:
  testing:
    engine: local              # an engine registered with 'dockyard engine add'
    strategy: rolling          # rolling, recreate or blue-green
    tests: [smoke]
    promote: auto              # auto: promote once the tests pass; manual: wait for approval
  production:
    engine: local
    strategy: blue-green
    router:                    # blue-green switches traffic between two host ports
      live: 8000
      preview: 8001
    tests: [smoke]
    promote: manual
    # replicas:
    #   web: 2
    # scaling:                 # the autoscaler keeps web between min and max replicas
    #   web:
    #     min: 2
    #     max: 10
    #     cpu_target: 60
"""

_APP_NAME = re.compile(r"[a-z][a-z0-9-]{0,40}")


def starter_spec(app: str) -> str:
    """The starter with the app name filled in; the name must be one the spec accepts."""
    if not _APP_NAME.fullmatch(app):
        raise UsageError(
            f"invalid app name {app!r}",
            hint="use lowercase letters, digits and '-', starting with a letter, at most 41 characters",
        )
    return STARTER_SPEC.format(app=app)

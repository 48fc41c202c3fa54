"""What each read command imports (issue 30): a read answers in the time Python takes to start plus
its own work, so it never loads the libraries only other commands need. Each command runs whole,
in a fresh process, against the local engine (ps and status then take every path they take for a
user, the edge's URLs included), and the top-level packages it loaded are compared with what it
must not load."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from dockyard.engine import labels as L

pytestmark = pytest.mark.integration

# No read command needs these: the server, S3, the ACME client, templates, certificates, etcd, the
# agent's /metrics; docker-py and requests (reads go over engine/wire.py), httpx (the agent is read
# over http.client), and pydantic: the spec's models and the settings file's are read through their
# checked copies (spec/brief.py, settings.py), made by the first command that reads each.
NEVER = {"fastapi", "starlette", "uvicorn", "boto3", "botocore", "acme", "josepy", "jinja2", "cryptography",
         "etcd3gw", "selenium", "prometheus_client", "docker", "requests", "httpx", "pydantic", "pydantic_core"}
READS = ["--help", "deploy --help", "ps testing", "ps", "status testing", "status production", "status",
         "releases testing", "config ls testing", "config diff testing testing", "logs testing --limit 20", "events",
         "audit", "pipeline ls", "token ls", "edge status", "backup ls testing"]
SPEC = """\
app: reads
services:
  web: {command: [httpd, -f, -p, "8080"], port: 8080}
environments:
  testing: {engine: local, strategy: rolling}
  production: {engine: local, strategy: blue-green, router: {live: 18711, preview: 18712}}
"""
RUN = """\
import sys
sys.argv = ["dockyard", *sys.argv[1:]]
from dockyard.cli.remote import main
try:
    main()
except SystemExit:
    pass
print("LOADED", " ".join(sorted({name.split(".")[0] for name in sys.modules})))
print("HELP DRAWN", "dockyard.cli.help_draw" in sys.modules)
"""


SETTINGS = """\
engines:
  elsewhere: {host: "tcp://127.0.0.1:1"}
"""


@pytest.mark.parametrize("command", READS)
def test_a_read_command_loads_only_what_it_uses(dockyard_env: Path, tmp_path: Path, command: str) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "dockyard.yml").write_text(SPEC)
    dockyard_env.mkdir(mode=0o700, exist_ok=True)
    (dockyard_env / "settings.yml").write_text(SETTINGS)  # a site with a settings file, as a real one has

    def run() -> tuple[set[str], str]:
        done = subprocess.run([sys.executable, "-c", RUN, *command.split()], cwd=app, env=dict(os.environ),
                              capture_output=True, text=True, timeout=60)
        found = next(line for line in done.stdout.splitlines() if line.startswith("LOADED"))
        # the help's drawing is loaded for a help only
        assert done.stdout.splitlines()[-1] == f"HELP DRAWN {'--help' in command}", done.stdout[-500:]
        return set(found.split()[1:]), done.stderr[-2000:]

    run()  # the first read of this spec and settings file validates them, and keeps their checked copies
    loaded, said = run()
    assert "dockyard" in loaded
    assert loaded & NEVER == set(), said


COUNT = """\
import sys
from dockyard.engine import wire
asked = []
for name in ("get", "ping"):
    def counted(self, *args, _real=getattr(wire.Wire, name), _name=name, **kwargs):
        asked.append(_name)
        return _real(self, *args, **kwargs)
    setattr(wire.Wire, name, counted)
sys.argv = ["dockyard", *sys.argv[1:]]
from dockyard.cli.remote import main
try:
    main()
except SystemExit as exc:
    assert not exc.code, exc.code
print("ASKED", len(asked))
"""


@pytest.mark.parametrize("command", ["ps", "status"])
def test_ps_and_status_ask_an_engine_the_same_few_times_whatever_runs_on_it(dockyard_env: Path, tmp_path: Path,
                                                                     docker_client: docker.DockerClient,
                                                                     command: str) -> None:
    """Two environments on one engine, four replicas: a ping, the app's containers in one listing
    (no inspect per container, no call per environment), its accessories in another."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "dockyard.yml").write_text(SPEC.replace("reads", f"reads{os.getpid()}"))
    name = f"reads{os.getpid()}"
    try:
        for env in ("testing", "production"):
            for replica in (1, 2):
                docker_client.containers.run(
                    "dockyard/busybox:1.35", ["sleep", "60"], detach=True, name=f"{name}_{env}_web_{replica}",
                    labels={L.MANAGED: "1", L.APP: name, L.ENV: env, L.SERVICE: "web", L.REPLICA: str(replica)})
        done = subprocess.run([sys.executable, "-c", COUNT, command], cwd=app, env=dict(os.environ, COLUMNS="200"),
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.count(f"{name}_testing_web_") == 2 and done.stdout.count(f"{name}_production_web_") == 2
        # status: and the colours of the blue-green environment, a listing of their own
        assert done.stdout.splitlines()[-1] == ("ASKED 3" if command == "ps" else "ASKED 4"), done.stdout
    finally:
        for container in docker_client.containers.list(all=True, filters={"label": f"{L.APP}={name}"}):
            container.remove(force=True)

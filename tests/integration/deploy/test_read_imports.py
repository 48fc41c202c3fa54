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

import pytest

pytestmark = pytest.mark.integration

# No read command needs these: the server, S3, the ACME client, templates, certificates, etcd, the
# agent's /metrics.
NEVER = {"fastapi", "starlette", "uvicorn", "boto3", "botocore", "acme", "josepy", "jinja2", "cryptography",
         "etcd3gw", "selenium", "prometheus_client"}
ENGINE = {"docker", "requests"}  # docker-py, and the requests it runs on
AGENT = {"httpx"}  # the agent's and the server's client
READS = {
    "--help": ENGINE | AGENT,
    "deploy --help": ENGINE | AGENT,
    "ps testing": AGENT,
    "status testing": AGENT,
    "releases testing": ENGINE | AGENT,
    "config ls testing": ENGINE | AGENT,
    "config diff testing testing": ENGINE | AGENT,
    "logs testing --limit 20": AGENT,
    "events": ENGINE,
    "audit": ENGINE | AGENT,
    "pipeline ls": ENGINE | AGENT,
    "token ls": ENGINE | AGENT,
    "edge status": ENGINE | AGENT,
    "backup ls testing": ENGINE | AGENT,
}
SPEC = """\
app: reads
services:
  web: {command: [httpd, -f, -p, "8080"], port: 8080}
environments:
  testing: {engine: local, strategy: rolling}
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
"""


@pytest.mark.parametrize("command", sorted(READS))
def test_a_read_command_loads_only_what_it_uses(dockyard_env: Path, tmp_path: Path, command: str) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "dockyard.yml").write_text(SPEC)
    done = subprocess.run([sys.executable, "-c", RUN, *command.split()], cwd=app, env=dict(os.environ),
                          capture_output=True, text=True, timeout=60)
    loaded = set(next(line for line in done.stdout.splitlines() if line.startswith("LOADED")).split()[1:])
    assert "dockyard" in loaded
    assert loaded & (NEVER | READS[command]) == set(), done.stderr[-2000:]

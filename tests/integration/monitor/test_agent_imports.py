"""What `dockyard agent` loads (issue 30: the agent under 40 MB): every module it imports stays
resident for the agent's whole life, so it loads only what it uses. The agent runs whole, in a fresh
process, against the local engine, with its log forwarder, every component started; then the
top-level packages and Dockyard's packages it loaded are compared with what it must not load."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

# The server's and the other commands' libraries, docker-py (engine/local_socket.py reads the engine's
# unix socket) and the spec's models (only --rules reads a spec). (pydantic and ruamel join them once
# settings.py no longer loads its models with Dockyard's home.)
NEVER = {"fastapi", "starlette", "uvicorn", "jinja2", "httpx", "boto3", "botocore", "acme", "josepy", "cryptography",
         "etcd3gw", "selenium", "docker", "requests", "urllib3"}
NEVER_DOCKYARD = {"spec", "plan", "deploy", "pipeline", "server", "build", "config", "scale", "backup", "swarm",
                  "notify", "state"}
RUN = """\
import sys, time
sys.argv = ["dockyard", *sys.argv[1:]]
from dockyard.monitor import agent

def run(self):
    self.start()
    time.sleep(2)  # the components' threads load what they load when they start
    print("LOADED", " ".join(sorted({name.split(".")[0] for name in sys.modules})))
    print("DOCKYARD", " ".join(sorted({name.split(".")[1] for name in sys.modules
                                       if name.startswith("dockyard.") and name.count(".") >= 1})))
    self.stop()

agent.Agent.run = run
from dockyard.cli.remote import main
try:
    main()
except SystemExit:
    pass
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_agent_loads_only_what_it_uses(dockyard_env: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", RUN, "agent", "--listen", f"127.0.0.1:{free_port()}",
                           "--label", "dockyard.test=agent-imports-none"], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=60)
    lines = {line.split(" ", 1)[0]: set(line.split()[1:]) for line in done.stdout.splitlines() if " " in line}
    assert "LOADED" in lines, done.stderr[-2000:]
    assert "dockyard" in lines["LOADED"] and "monitor" in lines["DOCKYARD"] and "logs" in lines["DOCKYARD"]
    assert lines["LOADED"] & NEVER == set()
    assert lines["DOCKYARD"] & NEVER_DOCKYARD == set()

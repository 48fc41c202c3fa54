"""What `dockyard agent` loads (issue 30: the agent under 40 MB): every module it imports stays
resident for the agent's whole life, so it loads only what it uses. `dockyard agent` checks its
options, then becomes the agent's own process (cli/agent_run.py, the same pid) without the CLI's
libraries; that process runs whole, against the local engine, with its log forwarder, every
component started; then the packages it loaded are compared with what it must not load."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dockyard.cli.agent_run import AgentRun
from tests.ports import free_port

pytestmark = pytest.mark.integration

# The server's and the other commands' libraries, the CLI's (typer, click, rich), docker-py
# (engine/local_socket.py reads the engine's unix socket) and the spec's models (only --rules reads a
# spec), pydantic and ruamel (the settings file is read through its checked copy).
NEVER = {"fastapi", "starlette", "uvicorn", "jinja2", "httpx", "boto3", "botocore", "acme", "josepy", "cryptography",
         "etcd3gw", "selenium", "docker", "requests", "urllib3", "typer", "click", "rich", "pydantic",
         "pydantic_core", "ruamel"}
NEVER_DOCKYARD = {"spec", "plan", "deploy", "pipeline", "server", "build", "config", "scale", "backup", "swarm",
                  "notify", "state"}
RUN = """\
import sys, threading, time
from dockyard.cli import agent_run
from dockyard.monitor import agent

def run(self):
    self.start()
    time.sleep(2)  # the components' threads load what they load when they start
    print("LOADED", " ".join(sorted({name.split(".")[0] for name in sys.modules})))
    print("DOCKYARD", " ".join(sorted({name.split(".")[1] for name in sys.modules
                                       if name.startswith("dockyard.") and name.count(".") >= 1})))
    print("MODULES", " ".join(sorted(name for name in sys.modules if name.startswith("dockyard."))))
    print("THREADS", " ".join(sorted(t.name for t in threading.enumerate())))
    self.stop()

agent.Agent.run = run
sys.exit(agent_run.main(sys.argv))
"""


def test_the_agent_loads_only_what_it_uses(dockyard_env: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    options = AgentRun(listen=f"127.0.0.1:{free_port()}", labels=["dockyard.test=agent-imports-none"])
    done = subprocess.run([sys.executable, "-c", RUN, options.argv()[-1]], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=60)
    lines = {line.split(" ", 1)[0]: set(line.split()[1:]) for line in done.stdout.splitlines() if " " in line}
    assert "LOADED" in lines, done.stderr[-2000:]
    assert "dockyard" in lines["LOADED"] and "monitor" in lines["DOCKYARD"] and "logs" in lines["DOCKYARD"]
    assert lines["LOADED"] & NEVER == set()
    assert lines["DOCKYARD"] & NEVER_DOCKYARD == set()
    # one engine event stream per agent: the inventory's wakes the log forwarder, which has no watcher
    assert "dockyard.engine.events" not in lines["MODULES"]
    assert "monitor-events" in lines["THREADS"] and "docker-events" not in lines["THREADS"], lines["THREADS"]


def test_dockyard_agent_becomes_the_agents_own_process(dockyard_env: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from dockyard.cli.remote import main; "
                             "sys.argv[0] = 'dockyard'; main()", "agent", "--listen", f"127.0.0.1:{port}",
                             "--label", "dockyard.test=agent-imports-none", "--no-logs"], cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                    assert answer.read() == b"ok\n"
                    break
            except OSError:
                assert proc.poll() is None, proc.communicate()[1][-2000:]
                time.sleep(0.1)
        command = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
        assert b"dockyard.cli.agent_run" in command  # the same pid, now the agent's own process
        assert json.loads(command[-2])["labels"] == ["dockyard.test=agent-imports-none"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)

"""Troubleshooting goes where the traffic goes (issue 27): `logs`, `stats` and `exec` of a blue-green
environment show the live colour's release, and --release, --color and --replica pick others; one
that does not exist is an error. Real engine, nginx and host agent."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_cli
from tests.integration.bluegreen.test_bluegreen_cli import bg_status, ok
from tests.json_schemas import check
from tests.ports import free_port

pytestmark = pytest.mark.integration


def logged(*args: str) -> str:
    return ok("logs", "production", "web", "--grep", "troubleshoot", *args)


def test_logs_stats_and_exec_default_to_the_live_release(bg_app) -> None:
    app, live, preview = bg_app
    ok("build")
    ok("config", "set", "production", "GREETING=one")
    ok("deploy", "production")
    ok("config", "set", "production", "GREETING=two")
    ok("deploy", "production")
    status = bg_status()
    on, by = status["live"], status["preview"]
    for _ in range(4):  # nginx takes turns: every replica logs one
        httpx.get(f"http://127.0.0.1:{live}/cgi-bin/log?troubleshoot-live", timeout=5)
        httpx.get(f"http://127.0.0.1:{preview}/cgi-bin/log?troubleshoot-standby", timeout=5)

    said = run_cli("logs", "production", "web", "--grep", "troubleshoot")
    assert f"{app.name}/production: release {on['release_id']} (live)" in said.stderr
    assert "troubleshoot-live" in said.stdout and "troubleshoot-standby" not in said.stdout
    standby = logged("--color", by["color"])
    assert "troubleshoot-standby" in standby and "troubleshoot-live" not in standby
    assert "troubleshoot-standby" in logged("--release", by["release_id"])
    every = logged("--release", "all")
    assert "troubleshoot-live" in every and "troubleshoot-standby" in every
    rows = json.loads(ok("logs", "production", "--grep", "troubleshoot", "--replica", "1", "--json"))
    assert {r["container"] for r in rows} == {f"{app.name}_production_web_{on['color']}_1"}
    missing = run_cli("logs", "production", "web", "--replica", "7")
    assert missing.returncode == 1 and "has no replica 7 (replicas: 1, 2)" in missing.stderr, missing.stderr
    assert "Traceback" not in missing.stderr

    shell = run_cli("exec", "production", "web", "--", "sh", "-c", "echo $DOCKYARD_COLOR")
    assert shell.returncode == 0 and shell.stdout.strip() == on["color"], shell.stderr

    port = free_port()
    agent = subprocess.Popen([str(Path(sys.executable).parent / "dockyard"), "agent", "--listen", f"127.0.0.1:{port}",
                              "--interval", "0.5", "--no-logs", "--label", f"dockyard.app={app.name}"],
                             cwd=app.path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if len(httpx.get(f"{url}/api/stats", timeout=2).json()["samples"]) >= 2:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)

        def stats(*args: str) -> set[str]:
            found = check("stats.schema.json", json.loads(ok("stats", "production", "--json", "--agent", url, *args)))
            return {s["name"] for s in found}

        def web(*colors: str) -> set[str]:
            return {f"{app.name}_production_web_{c}_{n}" for c in colors for n in (1, 2)}

        assert stats() == web(on["color"])
        assert stats("--color", by["color"]) == web(by["color"])
        assert stats("--replica", "2") == {f"{app.name}_production_web_{on['color']}_2"}
        assert stats("--release", "all") == web("blue", "green")
        wrong = run_cli("stats", "production", "--json", "--agent", url, "--color", "purple")
        assert wrong.returncode == 2 and "--color: blue or green" in wrong.stderr
    finally:
        agent.terminate()
        agent.wait(timeout=20)

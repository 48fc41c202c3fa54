"""One vocabulary from the CLI to the JSON (issue 27): each command's `--json` is validated against
its JSON Schema in docs/json/, and no output uses another dialect's name for the same thing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.apps import TestApp
from tests.conftest import run_cli
from tests.json_schemas import check
from tests.ports import free_port

pytestmark = pytest.mark.integration


def out(*args: str, cwd: Path | None = None, input: str | None = None) -> Any:
    result = run_cli(*args, "--json", cwd=cwd, input=input)
    assert result.returncode == 0, f"dockyard {' '.join(args)} --json: {result.stderr}"
    return json.loads(result.stdout)


def test_every_json_output_validates_against_its_schema(test_app: TestApp) -> None:
    live, preview = free_port(), free_port()
    spec = test_app.spec_file.read_text() + (
        f"  bluegreen: {{engine: local, registry: local, strategy: blue-green,\n"
        f"              router: {{live: {live}, preview: {preview}, rollback_window: 5m}}}}\n")
    test_app.write("dockyard.yml", spec)
    test_app.commit("a blue-green environment too")
    for env in ("testing", "staging", "bluegreen"):
        assert run_cli("config", "set", env, "GREETING=one").returncode == 0
    check("build.schema.json", out("build"))
    check("deploy.schema.json", out("deploy", "testing"))
    check("deploy.schema.json", out("deploy", "bluegreen"))
    assert run_cli("config", "set", "bluegreen", "GREETING=two").returncode == 0
    check("deploy.schema.json", out("deploy", "bluegreen"))
    check("deploy.schema.json", out("rollback", "bluegreen"))
    check("ps.schema.json", out("ps"))
    check("releases.schema.json", out("releases", "bluegreen"))
    check("status.schema.json", out("status"))
    check("status-env.schema.json", out("status", "testing"))
    bluegreen = out("status", "bluegreen")  # one shape for every strategy: the colours are its part
    check("status-env.schema.json", bluegreen)
    colors = bluegreen["colors"]
    assert colors["live"]["color"] == "blue" and colors["rollback_until"].endswith("Z")
    assert colors["live"]["public"] == [] and colors["balancer_running"] and colors["housekeeping"] == []
    run = out("pipeline", "run")  # waits at staging's manual gate
    check("pipeline-run.schema.json", run)
    assert run["status"] == "waiting" and run["actor"] and run["steps"][0]["env"] is None
    for listed in out("pipeline", "ls"):
        check("pipeline-run.schema.json", listed)
    check("pipeline-run.schema.json", out("pipeline", "show", str(run["id"])))
    # a schema is not a stamp: the wrong name fails it
    with pytest.raises(AssertionError):
        check("releases.schema.json", [{**out("releases", "testing")[0], "author": "x"}])
    check("pipeline-logs.schema.json", out("pipeline", "logs", str(run["id"])))
    cancelled = check("pipeline-run.schema.json", out("pipeline", "cancel", str(run["id"])))
    assert cancelled["status"] == "cancelled"
    check("logs.schema.json", out("logs", "testing"))
    check("scale.schema.json", out("scale", "testing", "web", "--clear"))
    check("audit.schema.json", out("audit", "testing"))
    check("down.schema.json", out("down", "bluegreen", "--yes"))


def test_the_site_and_configuration_commands_speak_the_vocabulary(tmp_path: Path, dockyard_env: Path) -> None:
    """The commands that need no engine: configuration, audit, tokens, engines, apps, autoscale, edge, init."""
    folder = tmp_path / "shop"
    folder.mkdir()
    init = check("init.schema.json", out("init", "--app", "shop", cwd=folder))
    assert init["app"] == "shop" and (folder / "dockyard.yml").is_file()
    env = "production"
    set_ = check("config-change.schema.json", out("config", "set", env, "A=alpha", "B=beta", cwd=folder))
    assert set_["changed"] == ["A", "B"] and set_["app"] == "shop" and "alpha" not in json.dumps(set_)
    secret = check("config-change.schema.json", out("secret", "set", env, "TOKEN", cwd=folder, input="s3cret"))
    assert secret["changed"] == ["TOKEN"] and "s3cret" not in json.dumps(secret)
    (tmp_path / "more.env").write_text("C=3\n")
    check("config-change.schema.json", out("config", "import", env, str(tmp_path / "more.env"), cwd=folder))
    assert check("config-rm.schema.json", out("config", "rm", env, "C", cwd=folder))["deleted"] == ["C"]
    exported = check("config-export.schema.json", out("config", "export", env, cwd=folder))
    assert exported["values"] == {"A": "alpha", "B": "beta"} and exported["secrets"] == {"TOKEN": "***"}
    check("config-ls.schema.json", out("config", "ls", env, cwd=folder))
    check("config-get.schema.json", out("config", "get", env, "A", cwd=folder))
    history = check("config-history.schema.json", out("config", "history", env, cwd=folder))
    assert {h["actor"] for h in history} == {"tester"} and history[0]["created_at"].endswith("Z")
    rows = check("audit.schema.json", out("audit", env))
    assert [r["action"] for r in rows][:2] == ["config rm", "config import"]
    check("audit-verify.schema.json", out("audit", "verify"))
    made = check("token.schema.json", out("token", "create", "--name", "ci", "--scope", "read"))
    assert made["token"] and made["expires_at"].endswith("Z")
    assert [t["name"] for t in check("token.schema.json", out("token", "ls"))] == ["ci"]
    assert check("token.schema.json", out("token", "revoke", "ci"))[0]["token_id"] == made["token_id"]
    check("engine.schema.json", out("engine", "add", "spare", "--host", "unix:///var/run/docker.sock"))
    assert "spare" in check("engine.schema.json", out("engine", "ls"))
    check("engine.schema.json", out("engine", "rm", "spare"))
    # a repository whose pipeline runs main only: a commit on another branch queues nothing
    spec = folder / "dockyard.yml"
    spec.write_text(spec.read_text() + "pipeline:\n  branches:\n    main: []\n")
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.email=t@example.invalid", "-c",
                 "user.name=t", "commit", "-qm", "start"], ["branch", "feature"]):
        subprocess.run(["git", *argv], cwd=folder, check=True)
    check("app.schema.json", out("app", "add", "shop", "--repo", str(folder)))
    check("app.schema.json", out("app", "ls"))
    bounded = check("app-policy.schema.json", out("app", "policy", "shop", "--domain", ".shop.example", "--cap",
                                                  "net_bind_service"))
    assert bounded["domains"] == [".shop.example"] and bounded["capabilities"] == ["NET_BIND_SERVICE"]
    queued = check("pipeline-trigger.schema.json", out("pipeline", "trigger", "--app", "shop", "--branch", "feature"))
    assert [q["run_id"] for q in queued] == [None]
    check("pipeline-poll.schema.json", out("pipeline", "poll", "--once"))
    hooks = check("hook-install.schema.json", out("hook", "install", cwd=folder))
    assert hooks["app"] == "shop" and all(Path(h).is_file() for h in hooks["hooks"])
    store = check("backup-store.schema.json", out("backup", "store", f"file://{tmp_path / 'backups'}"))
    assert str(tmp_path / "backups") in store["store"]
    check("autoscale-app.schema.json", out("autoscale", "enable", cwd=folder))
    check("autoscale-status.schema.json", out("autoscale", "status", cwd=folder))
    check("autoscale-event.schema.json", out("autoscale", "events", cwd=folder))
    check("autoscale-app.schema.json", out("autoscale", "disable", cwd=folder))
    check("backup-schedule.schema.json", out("backup", "schedule", cwd=folder))
    check("edge-status.schema.json", out("edge", "status"))
    check("edge-change.schema.json", out("edge", "stop"))

"""The systemd units in scripts/systemd/ (issue 14): valid for systemd itself, restarting always,
after the engine, and starting commands the CLI accepts."""
from __future__ import annotations

import configparser
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = sorted((Path(__file__).resolve().parents[2] / "scripts" / "systemd").glob("*.service"))
DOCKYARD = Path(sys.executable).parent / "dockyard"


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


def test_there_is_a_unit_for_the_server_and_for_the_agent() -> None:
    assert [u.name for u in UNITS] == ["dockyard-agent.service", "dockyard-server.service"]


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_systemd_finds_nothing_to_say_about_it(path: Path, tmp_path: Path) -> None:
    # verify wants ExecStart's program to exist: this checkout's dockyard stands in for /usr/local/bin's
    copy = tmp_path / path.name
    copy.write_text(path.read_text().replace("/usr/local/bin/dockyard", str(DOCKYARD)))
    result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_it_restarts_always_after_the_engine_and_runs_a_command_the_cli_knows(path: Path) -> None:
    service, deps = unit(path)["Service"], unit(path)["Unit"]
    assert service["Restart"] == "always"
    assert "docker.service" in deps["After"].split()
    program, command, *options = shlex.split(service["ExecStart"])
    assert program == "/usr/local/bin/dockyard"
    helped = subprocess.run([str(DOCKYARD), command, "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0
    for option in options:
        if option.startswith("--"):
            assert option in helped.stdout, f"{path.name}: dockyard {command} has no {option}"

"""scripts/setup.sh's table of requirements stays honest (issue 11).

The table maps each binary set-up provides to the Debian package that ships it; the package list
is derived from it. These tests check the table against dpkg itself, and check that every binary
the code, the tests and the benchmarks run is either in the table or part of every Debian system.
"""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SETUP = REPO / "scripts" / "setup.sh"
SUBPROCESS_CALLS = {"run", "Popen", "call", "check_call", "check_output"}
# Helpers in the test suite that run their first argument as a command.
COMMAND_HELPERS = {"sh"}
# Interpreters run by path from the venv, not provided by set-up.
NOT_SYSTEM = {"python", "python3", "dockyard"}

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="dpkg is Debian's; set-up targets Debian")


def requirement_rows() -> list[tuple[str, str, str]]:
    out = subprocess.run(["bash", str(SETUP), "requirements"], capture_output=True, text=True, check=True).stdout
    rows = [tuple(line.split()) for line in out.splitlines() if line.strip()]
    assert all(len(row) == 3 for row in rows), out
    return [(row[0], row[1], row[2]) for row in rows]


def candidate_paths(binary: str) -> list[Path]:
    """Every place the binary is found, with the usrmerge twin of each (dpkg records /bin, not /usr/bin)."""
    dirs = os.environ.get("PATH", "").split(os.pathsep) + ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    found: list[Path] = []
    for directory in dirs:
        path = Path(directory) / binary
        if path.is_file() and os.access(path, os.X_OK):
            for candidate in (path, path.resolve()):
                text = str(candidate)
                twins = [text]
                if text.startswith("/usr/"):
                    twins.append(text[len("/usr"):])
                else:
                    twins.append("/usr" + text)
                found.extend(Path(t) for t in twins if Path(t) not in found)
    return found


def owning_package(binary: str) -> str | None:
    for path in candidate_paths(binary):
        result = subprocess.run(["dpkg-query", "-S", str(path)], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0].strip()
    return None


def is_base_system(package: str) -> bool:
    """Essential or Priority: required packages are on every Debian system (debootstrap minbase)."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Essential} ${Priority}", package],
                         capture_output=True, text=True, check=True).stdout.split()
    return "yes" in out or "required" in out


def commands_run_by(path: Path) -> set[str]:
    """The literal first words of every argv this file hands to subprocess (or to a helper like sh)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    commands: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        is_subprocess = isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
            and func.value.id == "subprocess" and name in SUBPROCESS_CALLS
        first = node.args[0]
        if is_subprocess and isinstance(first, (ast.List, ast.Tuple)) and first.elts:
            word = first.elts[0]
        elif name in COMMAND_HELPERS and not is_subprocess:
            word = first
        else:
            continue
        if isinstance(word, ast.Constant) and isinstance(word.value, str):
            commands.add(Path(word.value).name)
    return commands


def all_commands_run() -> dict[str, list[str]]:
    where: dict[str, list[str]] = {}
    for top in ("dockyard", "tests", "bench"):
        for path in sorted((REPO / top).rglob("*.py")):
            for command in commands_run_by(path):
                where.setdefault(command, []).append(str(path.relative_to(REPO)))
    return where


def test_the_table_lists_each_binary_once_in_a_known_group() -> None:
    rows = requirement_rows()
    binaries = [binary for binary, _, _ in rows]
    assert len(binaries) == len(set(binaries))
    assert {group for _, _, group in rows} <= {"demo", "test"}
    assert {"dockerd", "etcd", "docker-registry", "nginx"} <= set(binaries)


def package_lists() -> tuple[list[str], list[str]]:
    script = f"source <(sed '/^main \"$@\"$/d' {SETUP}); apt_packages; echo --; WITH_TESTS=1; apt_packages"
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    demo, tests = (part.split() for part in out.split("--"))
    return demo, tests


def test_the_package_lists_and_the_table_agree() -> None:
    demo, tests = package_lists()
    rows = requirement_rows()
    assert {p for _, p, g in rows if g == "demo"} <= set(demo)
    assert not {p for _, p, g in rows if g == "test"} & set(demo)  # make demo installs no test package
    assert {p for _, p, _ in rows} <= set(tests)
    # every listed package is there for a binary of the table, or for what it provides otherwise
    assert set(tests) - {p for _, p, _ in rows} == {"ca-certificates", "python3-venv"}


@needs_dpkg
@pytest.mark.parametrize("binary,package,group", requirement_rows())
def test_each_binary_comes_from_the_package_the_table_names(binary: str, package: str, group: str) -> None:
    if not candidate_paths(binary):
        pytest.skip(f"{binary} is not installed here (run scripts/setup.sh install --tests)")
    owner = owning_package(binary)
    assert owner is not None, f"{binary} is installed but no Debian package ships it: {candidate_paths(binary)}"
    assert owner == package, f"scripts/setup.sh says {binary} comes from {package}, dpkg says {owner}"


@needs_dpkg
def test_every_binary_the_code_runs_is_set_up_or_part_of_debian() -> None:
    provided = {binary for binary, _, _ in requirement_rows()}
    unaccounted = []
    for command, files in sorted(all_commands_run().items()):
        if command in provided or command in NOT_SYSTEM:
            continue
        owner = owning_package(command)
        if owner is None or not is_base_system(owner):
            unaccounted.append(f"{command} (from {owner or 'no package'}; run by {', '.join(files)})")
    assert not unaccounted, "add these to the table in scripts/setup.sh: " + "; ".join(unaccounted)


def test_the_scan_finds_commands_in_argv_lists_and_helpers(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import subprocess\n"
                      "subprocess.run(['etcdctl', 'get'], check=True)\n"
                      "subprocess.Popen(['/usr/sbin/rsyslogd', '-n'])\n"
                      "sh('ip', 'link')\n"
                      "subprocess.run(argv)\n")
    assert commands_run_by(sample) == {"etcdctl", "rsyslogd", "ip"}

"""The command line imports only the module of the command it runs, and every command for --help."""

from __future__ import annotations

import subprocess
import sys

from dockyard.cli.main import NAMES, REGISTRY, command_named


def test_the_command_is_found_after_the_global_option() -> None:
    assert command_named(["rollback", "production"]) == "rollback"
    assert command_named(["-f", "other.yml", "config", "ls", "testing"]) == "config"
    assert command_named(["--file=other.yml", "autoscale", "status"]) == "autoscale"
    assert command_named(["--help"]) is None and command_named([]) is None
    assert command_named(["rollbak", "production"]) is None  # unknown: all of them, for the suggestion


def test_every_command_has_one_place() -> None:
    names = [name for group, _ in REGISTRY for name in group]
    assert len(names) == len(set(names)) == len(NAMES)


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_the_help_lists_every_command_and_loads_none() -> None:
    code = ("import sys; sys.argv = ['dockyard', '--help']; from dockyard.cli.main import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('LOADED', sorted(m for m in sys.modules if m.endswith('_cmds')))")
    out = run(code)
    assert all(f" {name} " in out for name in NAMES)
    assert out.splitlines()[-1] == "LOADED ['dockyard.cli.audit_cmds']"  # the audit hook, which --help skips


def test_a_rollback_loads_neither_the_server_nor_the_pipelines() -> None:
    code = ("import sys; from dockyard.cli.main import app, register; register({argv}); "
            "import typer.main; names = sorted(c.name for c in typer.main.get_command(app).commands.values()); "
            "print(names, 'dockyard.cli.server_cmds' in sys.modules, 'dockyard.cli.pipeline_cmds' in sys.modules)")
    assert run(code.format(argv=["rollback", "production"])) == (
        "['build', 'deploy', 'down', 'promote', 'releases', 'rollback'] False False")
    listed = run(code.format(argv=["--help"]))  # every command listed by its summary, none of them imported
    assert listed.endswith("False False") and "'autoscale'" in listed and "'token'" in listed


def test_a_help_is_drawn_without_typers_renderer_or_markdown() -> None:
    """cli/help_format.py draws every help with rich's console, table and panel: Typer's renderer
    loads Markdown, tracebacks and a pretty printer, 60 ms of a 150 ms budget (issue 30)."""
    code = ("import sys; sys.argv = ['dockyard', *{argv}, '--help']; from dockyard.cli.main import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('LOADED', sorted(m for m in ('typer.rich_utils', 'rich.markdown', 'markdown_it', 'rich.traceback')"
            " if m in sys.modules))")
    for argv in (["deploy"], ["config"], ["config", "set"], []):
        out = run(code.format(argv=argv))
        assert out.splitlines()[-1] == "LOADED []", out
        assert "Usage: dockyard" in out and "Show this message and exit." in out

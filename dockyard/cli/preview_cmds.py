"""preview: pull request previews by hand (issue 33), the same runs a pull request's webhook queues."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dockyard.cli.common import JsonOpt, result, say

preview_app = typer.Typer(no_args_is_help=True, help="Pull request previews (previews: in dockyard.yml): each pull "
                                                     "request its own environment pr-N; up, down, ls.\n\nExample: "
                                                     "dockyard preview up 7")
NumberArg = Annotated[int, typer.Argument(help="The pull request's number: its preview is environment pr-NUMBER.",
                                          min=1)]


def _db() -> Any:
    from dockyard.state.db import StateDB

    return StateDB()


def _finish(outcome: dict[str, Any], wait: bool, as_json: bool) -> None:
    """Print what was queued (or why nothing was), and follow its run unless --no-wait."""
    from dockyard.cli.pipeline_cmds import _fail, _store, follow_run

    run_id = outcome.get("run")
    if run_id is None:
        if as_json:
            result(True, outcome)
        else:
            say(f"{outcome['preview']}: {outcome['message']}")
        if outcome.get("reason") == "max":
            raise typer.Exit(_fail(outcome["message"]) if not as_json else 1)
        return
    if not as_json:
        say(f"run {run_id}: {outcome['app']} {outcome['preview']} ({outcome['commit_sha'][:7]})")
    follow_run(_store(), run_id, wait, as_json)


@preview_app.command("up")
def up(
    number: NumberArg,
    ref: Annotated[str | None, typer.Option("--ref", help="The ref that holds the pull request's head (default: "
                                                          "refs/pull/NUMBER/head; a branch: refs/heads/NAME).")] = None,
    fork: Annotated[bool, typer.Option("--fork", help="Treat it as a fork's pull request: no secrets, untrusted.")]
    = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the run until it ends.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Build the pull request's head and create or update its preview pr-NUMBER, as its webhook would.

    Example: dockyard preview up 7 --ref refs/heads/feature-login
    """
    from dockyard import settings
    from dockyard.cli.pipeline_cmds import _register_current, _store
    from dockyard.pipeline.previews import PreviewEvent, request

    app, _root = _register_current(_store())
    event = PreviewEvent(number=number, move="update", head_ref=ref or "", fork=fork)
    _finish(request(_db(), app, event, settings.author(), "cli"), wait, as_json)


@preview_app.command("down")
def down(
    number: NumberArg,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the take-down until it ends.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Take preview pr-NUMBER down with everything it had: containers, accessories and their data, names,
    certificates, configuration.

    Example: dockyard preview down 7
    """
    from dockyard import settings
    from dockyard.cli.pipeline_cmds import _register_current, _store
    from dockyard.pipeline.previews import close

    app, _root = _register_current(_store())
    _finish(close(_db(), app, number, settings.author(), "cli", "taken down by hand"), wait, as_json)


@preview_app.command("ls")
def ls(as_json: JsonOpt = False) -> None:
    """List the app's previews: number, state, commit, trusted or not, URL, last update.

    Example: dockyard preview ls --json
    """
    from dockyard.cli.common import read_app_brief
    from dockyard.pipeline.preview_store import PreviewStore

    app = read_app_brief().app
    rows = PreviewStore(_db()).rows(app)
    result(as_json, [r.as_json() for r in rows],
           *[f"{r.env:8} {r.state:9} {r.commit[:7]} {'trusted' if r.trusted else 'untrusted':9} "
             f"{r.url or '-'}{'  ' + r.message if r.message else ''}" for r in rows],
           *([] if rows else [f"{app} has no previews"]))


def register(app: typer.Typer) -> None:
    app.add_typer(preview_app, name="preview")

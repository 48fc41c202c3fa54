"""audit [ENV] [--since 1d] [--json], audit --verify (or `audit verify`); and what each changing command records.

Every CLI command that changes something is written to the audit log by `record_command`, called
once from the entry point with the command's outcome, so no command can forget it. The actor is
the OS user (a DOCKYARD_USER claim is shown beside it, never instead of it); values never enter
the log: `config set` records its keys only.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from dockyard.cli.argv import app_name, split_global
from dockyard.cli.common import err_console, print_json, say

# command words -> how many positional arguments name the target (the rest are keys or values)
CHANGES: dict[tuple[str, ...], int] = {
    ("deploy",): 1, ("promote",): 2, ("rollback",): 1, ("scale",): 2, ("build",): 0,
    ("config", "set"): 1, ("config", "rm"): 1, ("config", "import"): 1, ("secret", "set"): 1,
    ("pipeline", "approve"): 1, ("pipeline", "cancel"): 1, ("pipeline", "run"): 0,
    ("token", "create"): 0, ("token", "revoke"): 1, ("engine", "add"): 1, ("engine", "rm"): 1,
    ("app", "add"): 1, ("autoscale", "enable"): 0, ("autoscale", "disable"): 0, ("down",): 1,
    ("accessory", "boot"): 2, ("accessory", "reboot"): 2, ("accessory", "stop"): 2, ("accessory", "remove"): 2,
    ("backup", "create"): 2, ("backup", "restore"): 3, ("backup", "prune"): 2, ("backup", "store"): 0,
    ("backup", "schedule"): 0, ("app", "policy"): 1,
    ("edge", "configure"): 0, ("edge", "cert", "add"): 1, ("edge", "renew"): 0, ("edge", "start"): 0,
    ("edge", "stop"): 0, ("maintenance", "on"): 1, ("maintenance", "off"): 1, ("pipeline", "trigger"): 0,
    ("pipeline", "poll"): 0, ("hook", "install"): 0, ("exec",): 2, ("accessory", "exec"): 2,
    ("autoscale", "run"): 0, ("lock", "acquire"): 1, ("lock", "release"): 1,
    ("run",): 1, ("jobs", "enable"): 0, ("jobs", "disable"): 0, ("jobs", "run-now"): 1,
    ("rollout", "promote"): 1, ("rollout", "pause"): 1, ("rollout", "resume"): 1, ("rollout", "abort"): 1,
    ("preview", "up"): 1, ("preview", "down"): 1,
}
# Every other command only reads, or runs in the foreground and audits what it changes itself (the
# server, the agent, the pipeline worker); tests/unit/security/test_tokens_audit.py holds the list.
READS: set[tuple[str, ...]] = {
    ("accessory", "logs"), ("agent",), ("app", "ls"), ("audit",), ("autoscale", "events"), ("autoscale", "status"),
    ("backup", "ls"), ("balancers", "watch"), ("config", "diff"), ("config", "export"), ("config", "get"),
    ("config", "history"), ("config", "ls"), ("doctor",), ("edge", "status"), ("engine", "ls"), ("events",),
    ("forwarder", "run"), ("forwarder", "status"), ("init",), ("logs",), ("nodes",), ("notify", "ls"),
    ("notify", "test"), ("pipeline", "logs"), ("pipeline", "ls"), ("pipeline", "show"), ("pipeline", "work"),
    ("ps",), ("releases",), ("server",), ("stats",), ("status",), ("token", "ls"), ("lock", "status"),
    ("jobs", "ls"), ("jobs", "runs"), ("rollout", "status"), ("preview", "ls"),
}
SHOWN_WITHOUT_OPTIONS = {("app", "policy")}  # with no option it only shows: nothing changes
_DURATION = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def change_of(argv: list[str]) -> tuple[str, list[str], list[str]] | None:
    """(action, target words, detail words) of a changing command line; None for one that only reads."""
    _, rest = split_global(argv)
    if not rest:
        return None
    words = [a for a in rest if not a.startswith("-")]
    for command, n_target in sorted(CHANGES.items(), key=lambda item: -len(item[0])):
        if tuple(words[:len(command)]) == command:
            args = words[len(command):]
            if {"--help", "-h", "--dry-run"} & set(rest):
                return None  # asks, or plans without applying: nothing changes
            if command in SHOWN_WITHOUT_OPTIONS and not [a for a in rest if a.startswith("-") and a != "--json"]:
                return None
            target, rest_words = args[:n_target], args[n_target:]
            if command == ("app", "policy"):  # which bounds it set (their values are not secret, but long)
                detail = sorted({a.split("=")[0] for a in rest if a.startswith("--") and a != "--json"})
            elif command in (("config", "set"), ("config", "rm"), ("secret", "set"), ("scale",)):
                detail = [word.split("=", 1)[0] for word in rest_words]  # keys (or a count), never values
            else:
                detail = []
            for said in ("--skip-tests", "--force"):  # a release without its tests, a lock taken from another
                if said in rest:
                    detail.append(said)
            return " ".join(command), target, detail
    return None


def record_command(argv: list[str], exit_code: int, error: str | None) -> None:
    """Append the command's row; a log that cannot be written is said on stderr, not hidden."""
    change = change_of(argv)
    if change is None:
        return
    action, target, detail = change
    from dockyard.errors import DockyardError
    from dockyard.state.audit import AuditLog, os_actor
    from dockyard.state.db import StateDB

    spec_file, _ = split_global(argv)
    site_wide = ("token create", "token revoke", "engine add", "engine rm", "app add", "app policy", "edge configure",
                 "edge cert add", "edge renew", "edge start", "edge stop", "pipeline poll")
    app = app_name(Path(spec_file or "dockyard.yml")) if action not in site_wide else None
    outcome = "ok" if exit_code == 0 else f"failed: {error}" if error else f"failed (exit {exit_code})"
    try:
        db = StateDB()
        try:
            AuditLog(db).record(os_actor(), "cli", action, "/".join(filter(None, [app, *target])) or "-",
                                outcome, " ".join(detail))
        finally:
            db.close()
    except DockyardError as exc:
        err_console.print(f"warning: the audit log was not written: {exc.message}", highlight=False, markup=False)


def since_seconds(text: str | None, now: float) -> float | None:
    if not text:
        return None
    unit = text[-1:]
    if unit not in _DURATION or not text[:-1].isdigit():
        from dockyard.errors import UsageError

        raise UsageError(f"--since {text!r} is not a duration", hint="for example 30m, 12h, 1d, 2w")
    return now - int(text[:-1]) * _DURATION[unit]


def audit(
    env: Annotated[str | None, typer.Argument(help="Only rows whose target is this environment.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only rows newer than this (30m, 12h, 1d).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many rows.")] = 200,
    verify: Annotated[bool, typer.Option("--verify", help="Check the hash chain instead: a changed, deleted or "
                                                          "reordered row is named (also `audit verify`).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
    old_env: Annotated[str | None, typer.Option("--env", hidden=True)] = None,
) -> None:
    """Show the audit log, newest first: who changed what, from where, and the outcome.

    Example: dockyard audit production --since 1d
    """
    if env == "verify" or verify:
        if env not in (None, "verify") or old_env or since:
            from dockyard.errors import UsageError

            raise UsageError("audit --verify checks the whole log: it takes no ENV or --since")
        _verify(as_json)
        return
    if old_env is not None:  # the old spelling, for one more release
        if env is not None:
            from dockyard.errors import UsageError

            raise UsageError(f"audit {env} --env {old_env}: name the environment once")
        env = old_env
        err_console.print(f"warning: `audit --env {env}` is the old spelling; say `dockyard audit {env}` (the old "
                          "spelling goes in a later release)", highlight=False, markup=False)
    from dockyard.state.audit import AuditLog
    from dockyard.state.db import StateDB

    rows = AuditLog(StateDB()).rows(since_seconds(since, time.time()), env, limit)
    if as_json:
        print_json([r.as_json() for r in rows])
        return
    for r in rows:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.at))
        say(f"{r.seq:5} {when}  {r.actor:20} {r.source:18} {r.action:16} {r.target:28} {r.outcome}"
            + (f"  [{r.detail}]" if r.detail else ""))


def _verify(as_json: bool) -> None:
    """Check the hash chain; exit 1 when a row was changed, deleted or reordered."""
    from dockyard.state.audit import AuditLog
    from dockyard.state.db import StateDB

    log = AuditLog(StateDB())
    problems = log.verify()
    if as_json:
        print_json({"whole": not problems, "rows": sum(1 for _ in log.all()),
                    "problems": [{"seq": p.seq, "what": p.what} for p in problems]})
        if problems:
            raise typer.Exit(1)
        return
    if problems:
        for p in problems:
            err_console.print(f"row {p.seq}: {p.what}", highlight=False, markup=False)
        raise typer.Exit(1)
    say(f"audit log whole: {sum(1 for _ in log.all())} rows, chain verified")


def register(app: typer.Typer) -> None:
    """Add the audit command. (main.py calls it when it runs, or for --help.)"""
    app.command("audit")(audit)

"""pipeline run|trigger|ls|show|logs|approve|cancel|work, hook install, app add|ls."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from dockyard.cli.common import JsonOpt as Json
from dockyard.cli.common import console, load_app_spec, options, print_json, result, say

pipeline_app = typer.Typer(help="Runs: a commit built once, then deployed, tested and promoted env by env.",
                           no_args_is_help=True)
hook_app = typer.Typer(help="Git hooks that start a pipeline run for each commit or push.\n\n"
                                 "Example: dockyard hook install", no_args_is_help=True)
app_app = typer.Typer(help="Apps known to the pipeline (their repository and dockyard.yml).", no_args_is_help=True)

RunArg = Annotated[int, typer.Argument(help="Run id (see dockyard pipeline ls).")]


def _store():
    from dockyard.pipeline.store import RunStore
    from dockyard.state.db import StateDB

    return RunStore(StateDB())


def _who() -> str:
    from dockyard.settings import author

    return author()


def _git_root(path: Path) -> Path:
    from dockyard.pipeline.source import _git

    return Path(_git("rev-parse", "--show-toplevel", cwd=path).decode().strip())


def _register_current(store) -> tuple[str, Path]:
    """Register the app of -f/dockyard.yml with its repository; return (app, repo root)."""
    spec = load_app_spec()
    root = _git_root(spec.base_dir)
    spec_file = (spec.base_dir / options.spec_file.name).resolve().relative_to(root)
    store.register_app(spec.app, str(root), str(spec_file))
    return spec.app, root


@app_app.command("add")
def app_add(
    name: Annotated[str, typer.Argument(help="The app's name (app: in its dockyard.yml).")],
    repo: Annotated[str, typer.Option("--repo", help="Git URL or path the pipeline fetches from.")],
    spec_file: Annotated[str, typer.Option("--spec-file", help="dockyard.yml's path in the repo.")] = "dockyard.yml",
    replace: Annotated[bool, typer.Option("--replace", help="Move an app already registered to this "
                                                            "repository.")] = False,
    as_json: Json = False,
) -> None:
    """Register an app whose commits arrive by webhook or polling.

    Example: dockyard app add shop --repo /srv/git/shop.git
    """
    _store().register_app(name, repo, spec_file, replace=replace)
    result(as_json, {"app": name, "repo": repo, "spec_file": spec_file}, f"app {name}: {repo} ({spec_file})")


@app_app.command("ls")
def app_ls(as_json: Json = False) -> None:
    """List the registered apps. Example: dockyard app ls --json"""
    apps = _store().apps()
    if as_json:
        print_json([{"app": a.name, "repo": a.repo, "spec_file": a.spec_file} for a in apps])
        return
    for a in apps:
        say(f"{a.name:20} {a.repo}  ({a.spec_file})")


@app_app.command("policy")
def app_policy(
    name: Annotated[str, typer.Argument(help="The app.")],
    engine: Annotated[list[str] | None, typer.Option("--engine", help="ENV=ENGINE[,ENGINE]: the engines an "
                                                                      "environment may use (ENV * for any); "
                                                                      "repeat.")] = None,
    domain: Annotated[list[str] | None, typer.Option("--domain", help="A name it may serve, or a suffix "
                                                                      "(.shop.example); repeat.")] = None,
    bind: Annotated[list[str] | None, typer.Option("--bind", help="A host folder its binds may lie under; "
                                                                  "repeat.")] = None,
    allow_root: Annotated[bool | None, typer.Option("--allow-root/--no-allow-root", help="Whether a service or "
                                                    "accessory may run as root.", show_default=False)] = None,
    cap: Annotated[list[str] | None, typer.Option("--cap", help="A capability it may add (NET_BIND_SERVICE); "
                                                                "repeat.")] = None,
    host_port: Annotated[list[str] | None, typer.Option("--host-port", help="A host port (or A-B) it may "
                                                                            "publish; repeat.")] = None,
    image: Annotated[list[str] | None, typer.Option("--image", help="A prefix its accessories' images must "
                                                                    "start with; repeat.")] = None,
    fork_secrets: Annotated[bool | None, typer.Option("--fork-secrets/--no-fork-secrets", help="Whether the "
                                                      "preview of a pull request from a fork gets secrets.",
                                                      show_default=False)] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Back to the default bounds first.")] = False,
    as_json: Json = False,
) -> None:
    """Show or set the bounds of what an app's commits may choose: engines, domains, bind folders, root,
    capabilities, host ports, accessories' images, secrets for forks' previews (docs/security.md). Options
    given replace those bounds.

    Example: dockyard app policy shop --engine production=prod --domain .shop.example --bind /srv/shop
    """
    from dockyard import settings
    from dockyard.errors import UsageError
    from dockyard.spec.bounds import under

    site = settings.load()
    current = site.policy(name)
    changes: dict[str, object] = {}
    if engine is not None:
        engines: dict[str, list[str]] = {}
        for item in engine:
            env, sep, names = item.partition("=")
            if not sep or not env or not names:
                raise UsageError(f"--engine {item!r}: write ENV=ENGINE[,ENGINE] (ENV * for every environment)")
            engines[env] = [n for n in names.split(",") if n]
        changes["engines"] = engines
    for field, given in (("domains", domain), ("binds", bind), ("host_ports", host_port), ("images", image)):
        if given is not None:
            changes[field] = list(given)
    if cap is not None:
        changes["capabilities"] = [c.strip().upper().removeprefix("CAP_") for c in cap]
    if allow_root is not None:
        changes["allow_root"] = allow_root
    if fork_secrets is not None:
        changes["fork_secrets"] = fork_secrets
    if changes or reset:
        try:
            updated = settings.AppPolicy.model_validate({**({} if reset else current.model_dump()), **changes})
        except ValueError as exc:
            raise UsageError(f"app policy {name}: {exc}") from exc
        for other, theirs in site.policies.items():  # one app's bind folders never nest in another's
            clash = [f for f in updated.binds or [] for t in theirs.binds or []
                     if other != name and (under(f, [t]) or under(t, [f]))]
            if clash:
                raise UsageError(f"--bind {clash[0]}: it overlaps a bind folder of app {other}: a container of one "
                                 "app could redirect the other's binds")
        site.policies[name] = updated
        settings.save(site)
        current = updated
    shown = current.model_dump()
    result(as_json, {"app": name, **shown},
           *[f"{name}: {key} = {value if value is not None else 'any (the default branch chooses)'}"
             for key, value in shown.items()])


@hook_app.command("install")
def hook_install(
    repo: Annotated[Path | None, typer.Option("--repo", help="A bare repository to install into (push target).")]
    = None,
    as_json: Json = False,
) -> None:
    """Install post-commit and post-receive hooks so every commit (or push) starts a run.

    Example: dockyard hook install             (in the app's work tree)
             dockyard hook install --repo /srv/git/shop.git   (a bare repo the team pushes to)
    """
    from dockyard.pipeline.source import _git
    from dockyard.pipeline.triggers import install_hooks

    store = _store()
    if repo is not None:  # the team's bare repository: the app moves there from this checkout, never from another
        spec = load_app_spec()
        app, root, git_dir = spec.app, _git_root(spec.base_dir), repo.resolve()
        spec_file = (spec.base_dir / options.spec_file.name).resolve().relative_to(root)
        known = {a.name: a.repo for a in store.apps()}.get(app)
        store.register_app(app, str(git_dir), str(spec_file), replace=known in (None, str(root), str(git_dir)))
    else:
        app, root = _register_current(store)
        git_dir = (root / _git("rev-parse", "--git-dir", cwd=root).decode().strip()).resolve()
    installed = [str(path) for path in install_hooks(git_dir, app)]
    result(as_json, {"app": app, "hooks": installed}, *[f"installed {path}" for path in installed])


@pipeline_app.command("trigger")
def trigger(
    app: Annotated[str, typer.Option("--app", help="Registered app.")],
    commit: Annotated[str | None, typer.Option("--commit", help="Commit (default: the repo's HEAD).")] = None,
    branch: Annotated[str | None, typer.Option("--branch", help="Branch of the commit.")] = None,
    hook: Annotated[str | None, typer.Option("--hook", help="Called from this git hook.")] = None,
    as_json: Json = False,
) -> None:
    """Queue a run (what the git hooks call) and make sure a worker executes it.

    Example: dockyard pipeline trigger --app shop --commit 1a2b3c4 --branch main
    """
    from dockyard.pipeline.source import _git
    from dockyard.pipeline.triggers import enqueue, parse_post_receive
    from dockyard.pipeline.worker import ensure_worker

    store = _store()
    if hook == "post-receive":
        updates = parse_post_receive(sys.stdin.read())
    else:
        repo = Path(store.app(app).repo)
        commit = commit or _git("rev-parse", "HEAD", cwd=repo).decode().strip()
        branch = branch or _git("rev-parse", "--abbrev-ref", "HEAD", cwd=repo).decode().strip()
        updates = [(commit, branch)]
    queued = [(enqueue(store, app, sha, name, hook or "manual"), sha, name) for sha, name in updates]
    result(as_json, [{"app": app, "run_id": run_id, "commit_sha": sha, "branch": name} for run_id, sha, name in queued],
           *[f"dockyard: run {run_id} queued for {app} {sha[:7]} ({name})" if run_id
             else f"dockyard: branch {name} runs no pipeline" for run_id, sha, name in queued])
    if any(run_id is not None for run_id, _sha, _name in queued):
        ensure_worker()


@pipeline_app.command("run")
def run(
    commit: Annotated[str | None, typer.Option("--commit", help="Commit or ref (default: HEAD).")] = None,
    branch: Annotated[str | None, typer.Option("--branch", help="Branch (default: the current one).")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the run until it ends or waits.")] = True,
    as_json: Json = False,
) -> None:
    """Start a run of this checkout's commit: build once, then every environment of its branch's path.

    Example: dockyard pipeline run
    """
    from dockyard.pipeline.source import _git, resolve_commit
    from dockyard.pipeline.triggers import enqueue

    store = _store()
    app, root = _register_current(store)
    sha = resolve_commit(str(root), commit or "HEAD")
    branch = branch or _git("rev-parse", "--abbrev-ref", "HEAD", cwd=root).decode().strip()
    from dockyard import settings

    run_id = enqueue(store, app, sha, branch, "manual", started_by=settings.author())  # a CLI run has its actor
    if run_id is None:
        raise typer.Exit(_fail(f"branch {branch} runs no pipeline (pipeline.branches in dockyard.yml)"))
    if not as_json:
        say(f"run {run_id}: {app} {sha[:7]} ({branch})")
    follow_run(store, run_id, wait, as_json)


def follow_run(store, run_id: int, wait: bool, as_json: bool) -> None:
    """A queued run: followed step by step (by the server's worker, or worked here when no server
    runs), or left to a detached worker (not `wait`); then printed, exit 1 when it did not pass."""
    from dockyard.pipeline.worker import ensure_worker, server_alive

    if not wait:
        ensure_worker()
    elif server_alive():
        _follow(store, run_id, quiet=as_json)
    else:
        _work_in_foreground(store, run_id, quiet=as_json)
    _print_run(store, run_id, as_json)
    if store.run(run_id).status in ("failed", "interrupted", "cancelled"):
        raise typer.Exit(1)


def _fail(message: str) -> int:
    from dockyard.cli.common import err_console

    err_console.print(f"[red]error:[/] {message}", highlight=False)
    return 1


def _work_in_foreground(store, run_id: int, quiet: bool) -> None:
    import threading

    from dockyard.pipeline.worker import Worker, app_lock

    stop = threading.Event()
    watcher = threading.Thread(target=_follow, args=(None, run_id, quiet, stop), daemon=True)
    watcher.start()
    app = store.run(run_id).app
    with app_lock(app, wait=True):  # a detached worker of the app may have it: it runs ours, or we do
        worker = Worker(app)
        try:
            worker.run_until_idle()
        finally:
            worker.close()
    stop.set()
    watcher.join(timeout=5)


def _follow(store, run_id: int, quiet: bool = False, stop=None) -> None:
    """Print each step's status as it changes, until the run ends or waits for a gate."""
    store = store or _store()
    seen: dict[int, str] = {}
    while True:
        run = store.run(run_id)
        for step in store.steps(run_id, output=False):
            if seen.get(step.idx) != step.status and step.status != "pending":
                seen[step.idx] = step.status
                if not quiet:
                    say(f"  {step.status:10} {step.kind:6} {step.env:12} {step.name}")
        if run.status not in ("queued", "running") or (stop is not None and stop.is_set()):
            return
        time.sleep(0.3)


def _run_dict(store, run_id: int) -> dict:
    return store.run_json(run_id)


def _print_run(store, run_id: int, as_json: bool) -> None:
    if as_json:
        print_json(_run_dict(store, run_id))
        return
    run = store.run(run_id)
    colour = {"succeeded": "green", "failed": "red", "waiting": "yellow"}.get(run.status, "white")
    console.print(f"run {run.id} [{colour}]{run.status}[/] {run.app} {run.commit_sha[:7]} ({run.branch})"
                  + (f": {run.error}" if run.error else ""), highlight=False)
    if run.status == "waiting":
        say(f"  approve with: dockyard pipeline approve {run.id}")


@pipeline_app.command("ls")
def ls(
    app: Annotated[str | None, typer.Option("--app", help="Only this app.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: Json = False,
) -> None:
    """List runs, newest first. Example: dockyard pipeline ls --json"""
    from rich.table import Table

    store = _store()
    runs = store.runs(app, limit)
    if as_json:
        print_json([_run_dict(store, r.id) for r in runs])
        return
    table = Table("run", "app", "commit", "branch", "trigger", "status", "error")
    for r in runs:
        table.add_row(str(r.id), r.app, r.commit_sha[:7], r.branch, r.trigger, r.status, r.error[:60])
    console.print(table)


@pipeline_app.command("show")
def show(run_id: RunArg, as_json: Json = False) -> None:
    """A run and each of its steps. Example: dockyard pipeline show 12"""
    from rich.table import Table

    store = _store()
    if as_json:
        print_json(_run_dict(store, run_id))
        return
    _print_run(store, run_id, False)
    table = Table("#", "kind", "env", "step", "status", "seconds", "approved by")
    for s in store.steps(run_id, output=False):
        seconds = f"{(s.ended_at or time.time()) - s.started_at:.1f}" if s.started_at else ""
        table.add_row(str(s.idx), s.kind, s.env, s.name, s.status, seconds, s.approved_by or "")
    console.print(table)


@pipeline_app.command("logs")
def logs(
    run_id: RunArg,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the run ends.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Each step with its output as JSON (not with -f).")] = False,
    full: Annotated[bool, typer.Option("--full", help="All a step printed, also before the last 5 MiB kept in the "
                                       "run (while its full log is kept: 14 days after the run ends).")] = False,
) -> None:
    """The output of every step of a run (each step's last 5 MiB; --full: all of it).

    Example: dockyard pipeline logs 12 -f
    """
    store = _store()
    if follow and (as_json or full):
        from dockyard.errors import UsageError

        raise UsageError(f"{'--json' if as_json else '--full'} prints the output once: drop -f (or follow as text)")
    store.run(run_id)  # an unknown run: its NotFound
    if as_json:
        print_json([{"run_id": run_id, "idx": step.idx, "kind": step.kind, "env": step.env or None,
                     "name": step.name, "status": step.status,
                     "output": store.full_log(run_id, step.idx) if full else step.output}
                    for step in store.steps(run_id, output=not full)])
        return
    if full:
        _print_full_logs(store, run_id)
        return
    printed: dict[int, int] = {}  # step -> bytes of its output printed here
    while True:
        # read before the output: a run has written all its output before it ends
        ended = store.run(run_id).status not in ("queued", "running")
        for step in store.steps(run_id, output=False):
            done = printed.get(step.idx, 0)
            if step.printed <= done:
                continue
            piece = store.output_since(run_id, step.idx, done)
            if done == 0 and piece.text:
                say(f"== {step.idx} {step.kind} {step.env} {step.name}")
            sys.stdout.write(piece.text)
            sys.stdout.flush()
            printed[step.idx] = piece.end
        if not follow or ended:
            return
        time.sleep(0.5)


def _print_full_logs(store, run_id: int) -> None:
    import shutil

    for step in store.steps(run_id, output=False):
        if not step.printed:
            continue
        say(f"== {step.idx} {step.kind} {step.env} {step.name}")
        sys.stdout.flush()
        path = store.output.full_log(run_id, step.idx)
        if path is None:  # removed with its run's age (or never written): what the run keeps
            sys.stdout.write(store.full_log(run_id, step.idx))
        else:
            with path.open("rb") as log:
                shutil.copyfileobj(log, sys.stdout.buffer)
        sys.stdout.flush()


@pipeline_app.command("approve")
def approve(run_id: RunArg, as_json: Json = False) -> None:
    """Approve the manual gate a run waits at; the run goes on. Example: dockyard pipeline approve 12"""
    from dockyard.pipeline.worker import ensure_worker

    store = _store()
    step = store.approve(run_id, _who())
    ensure_worker()
    result(as_json, _run_dict(store, run_id), f"run {run_id}: {step.name} approved by {step.approved_by}")


@pipeline_app.command("cancel")
def cancel(run_id: RunArg, as_json: Json = False) -> None:
    """Cancel a queued, running or waiting run (a running step finishes first). Example: dockyard pipeline cancel 12"""
    store = _store()
    store.cancel(run_id, _who())
    result(as_json, _run_dict(store, run_id), f"run {run_id} cancelled")


@pipeline_app.command("work")
def work() -> None:
    """Execute queued runs until none is left (started by hooks when no server runs).

    Example: dockyard pipeline work
    """
    from dockyard.pipeline.worker import Pool

    # Each app's runs one by one, several apps at once; an app another worker (or the server) has
    # is left to it: that worker looks at the queue again after each run it lets go.
    pool = Pool()
    try:
        pool.run_until_idle()
    finally:
        pool.close()


@pipeline_app.command("poll")
def poll(
    once: Annotated[bool, typer.Option("--once", help="One pass over every app, then exit.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --once: what the pass found, as JSON.")] = False,
) -> None:
    """Poll the git remotes of apps with pipeline.poll and queue a run for each branch that moved
    (what `dockyard server` does in the background). Example: dockyard pipeline poll --once
    """
    from dockyard.pipeline.worker import ensure_worker
    from dockyard.server.poller import Poller

    if as_json and not once:
        from dockyard.errors import UsageError

        raise UsageError("--json reports one pass: add --once")
    poller = Poller(_store())
    while True:
        results = poller.poll_due(once=once)
        if as_json:
            print_json([{"app": i.app, "branch": i.branch, "commit_sha": i.commit or None, "action": i.action,
                         "run_id": i.run_id} for i in results])
        for item in [] if as_json else results:
            say(f"{item.app} {item.branch}: {item.commit[:7] or '-'} "
                + {"run": f"moved: run {item.run_id} queued", "baseline": "first look (recorded, no run)",
                   "same": "unchanged", "gone": "no such branch", "no-pipeline": "moved; the branch runs no pipeline"}
                [item.action])
        if any(item.action == "run" for item in results):
            ensure_worker()
        if once:
            return
        time.sleep(1.0)


def register(app: typer.Typer) -> None:
    """Add the pipeline, hook and app groups. (main.py calls it when one of them runs, or for --help.)"""
    app.add_typer(pipeline_app, name="pipeline")
    app.add_typer(hook_app, name="hook")
    app.add_typer(app_app, name="app")

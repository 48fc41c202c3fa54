"""build, deploy, promote, rollback, releases: the path of one image through the environments."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli.common import (
    JsonOpt,
    WaitOpt,
    console,
    err_console,
    load_app_spec,
    lock_patience,
    print_json,
    read_app_brief,
    result,
    say,
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")]
SkipTests = Annotated[bool, typer.Option("--skip-tests", help="Do not run the environment's endpoint tests "
                                                              "(recorded in the audit log).")]


def _deployer(quiet: bool = False):
    from dockyard.config.service import open_config_service
    from dockyard.scale.deploys import new_deployer
    from dockyard.state.db import StateDB

    return new_deployer(load_app_spec(), open_config_service(), StateDB(), (lambda _l: None) if quiet else say)


def _print_outcome(outcome, as_json: bool) -> None:
    if as_json:
        print_json(outcome.as_json())
        return
    if outcome.dry_run:
        say(f"plan for {outcome.app}/{outcome.env} -> release {outcome.release_id} (dry run, nothing changed):")
        for action in outcome.actions:
            say(f"  {action.describe()}")
        return
    console.print(f"[green]{outcome.app}/{outcome.env}[/] runs release [bold]{outcome.release_id}[/] "
                  f"(image {outcome.image}, config revision {outcome.config_revision})")
    for url in outcome.urls:
        say(f"  {url}")


def build(
    no_push: Annotated[bool, typer.Option("--no-push", help="Build only; push nothing.")] = False,
    allow_dirty: Annotated[
        bool, typer.Option("--allow-dirty", help="Build uncommitted changes, tagged -dirty.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if this commit was built.")] = False,
    as_json: Json = False,
) -> None:
    """Build the image of the current git commit once, and push it to the registries the environments use.

    Example: dockyard build
    """
    from dockyard.build.builder import build_and_push
    from dockyard.build.git import head_commit
    from dockyard.deploy.deployer import used_registries
    from dockyard.engine.client import connect
    from dockyard.errors import BuildError
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    commit = head_commit(spec.base_dir)
    if commit.dirty and not allow_dirty:
        raise BuildError(f"{spec.base_dir}: uncommitted changes; an image must come from a commit",
                         hint="commit them, or build anyway with --allow-dirty (tagged -dirty)")
    registries = [] if no_push else used_registries(spec)
    engine = connect("local")
    with console.status(f"building {spec.app}:{commit.tag}") as status:
        result = build_and_push(engine, StateDB(), spec.app, spec.base_dir / spec.build.context,
                                spec.build.dockerfile, spec.build.args, commit, registries,
                                progress=lambda line: status.update(f"{spec.app}:{commit.tag}  {line[:100]}"),
                                force=force)
    if as_json:
        print_json({"app": result.app, "commit_sha": commit.sha, "tag": result.tag, "image_id": result.image_id,
                    "reused": result.reused, "dirty": commit.dirty, "pushed": result.digests})
        return
    verb = "reused" if result.reused else "built"
    console.print(f"[green]{verb}[/] {spec.app}:{result.tag} ({result.image_id[:19]})")
    for ref in result.digests.values():
        say(f"  pushed {ref}")


def deploy(
    env: Annotated[str, typer.Argument(help="Environment name from dockyard.yml.")],
    image: Annotated[str | None, typer.Option("--image", help="Deploy this image instead of HEAD's build.")] = None,
    dry_run: DryRun = False,
    skip_tests: SkipTests = False,
    wait: WaitOpt = None,
    as_json: Json = False,
) -> None:
    """Deploy the current commit's image (or --image) with the environment's configuration, then run
    the environment's endpoint tests against it (blue/green: through the standby listener, before
    the switch). A rolling or recreate release that fails one is replaced by the previous release.

    Example: dockyard deploy testing --dry-run
    """
    with lock_patience(wait):
        outcome = _deployer(quiet=as_json).deploy(env, image=image, dry_run=dry_run, skip_tests=skip_tests)
    _print_outcome(outcome, as_json)


def promote(
    source: Annotated[str, typer.Argument(help="Environment whose live release moves on.")],
    target: Annotated[str | None, typer.Argument(help="Target env (default: the next one).")] = None,
    dry_run: DryRun = False,
    skip_tests: SkipTests = False,
    wait: WaitOpt = None,
    as_json: Json = False,
) -> None:
    """Move the release that runs in SOURCE (the same image digest, never a rebuild) to the next environment;
    the target's endpoint tests run against it there, as on a deploy.

    Example: dockyard promote testing staging
    """
    from dockyard.deploy.promote import promote as run_promote

    with lock_patience(wait):
        outcome = run_promote(_deployer(quiet=as_json), source, target, dry_run=dry_run, skip_tests=skip_tests)
    _print_outcome(outcome, as_json)


def rollback(
    env: Annotated[str, typer.Argument(help="Environment to roll back.")],
    with_release_task: Annotated[bool, typer.Option("--with-release-task", help="Run the release task of the "
                                                    "release restored again (by default a rollback runs none).")
                                 ] = False,
    wait: WaitOpt = None,
    as_json: Json = False,
) -> None:
    """Restore the previous release of ENV: its image and its configuration together.

    Example: dockyard rollback production
    """
    from dockyard.deploy.quick_rollback import quick_rollback

    # a blue-green switch back inside its window needs only the brief; anything else, the Deployer
    with lock_patience(wait):
        quiet = (lambda _l: None) if as_json else say
        outcome = None if with_release_task else quick_rollback(read_app_brief(), env, quiet)
        if outcome is None:
            from dockyard.deploy.promote import rollback as run_rollback

            outcome = run_rollback(_deployer(quiet=as_json), env, with_release_task=with_release_task)
    _print_outcome(outcome, as_json)


def releases(
    env: Annotated[str, typer.Argument(help="Environment name.")],
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: Json = False,
) -> None:
    """List the releases of ENV, newest first: release id, image, commit, config revision, status.

    Example: dockyard releases production --json
    """
    from rich.table import Table

    from dockyard.state.db import StateDB

    brief = read_app_brief()
    brief.engine(env)  # an environment the spec defines
    rows = StateDB().release_history(brief.app, env, limit)
    if as_json:
        print_json(rows)
        return
    table = Table("seq", "release", "status", "commit", "config rev", "image", "by", "release task", "note")
    for r in rows:
        repo, _, digest = r["image"].partition("@")
        image = f"{repo}@{digest[:19]}" if digest else repo
        ran = task_cell(r["release_task"])
        table.add_row(str(r["seq"]), r["release_id"], r["status"], (r["commit_sha"] or "")[:7],
                      str(r["config_revision"]), image, r["actor"], ran, r["note"] or "")
    console.print(table)


def task_cell(task: dict | None) -> str:
    """A release's release task in the table: `succeeded 2.1s`, `failed (exit 3) 0.4s`, `-`."""
    if task is None:
        return "-"
    exit_code = f" (exit {task['exit_code']})" if task["exit_code"] else ""
    seconds = f" {task['seconds']:.1f}s" if task["seconds"] is not None else ""
    return f"{task['status']}{exit_code}{seconds}"


def down(
    env: Annotated[str, typer.Argument(help="The environment to take down.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    purge: Annotated[bool, typer.Option("--purge", help="Also remove its volumes (their data) and forget its "
                                                       "release history.")] = False,
    wait: WaitOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take ENV down: its names off the edge, its balancer, its containers (or Swarm services) and
    its network. Its volumes, configuration and release history stay (the live release is marked
    down), unless --purge, which removes the volumes with their data; `dockyard deploy ENV` brings
    it back.

    Example: dockyard down staging --yes
    """
    import sys

    from dockyard import settings
    from dockyard.deploy.teardown import tear_down
    from dockyard.errors import UsageError
    from dockyard.state.db import StateDB

    spec = load_app_spec()
    spec.environment(env)
    if not yes:
        if not sys.stdin.isatty():
            data = " and its volumes with their data" if purge else ""
            raise UsageError(f"dockyard down {env} removes what runs{data}: confirm with --yes")
        also = " and remove its volumes (their data) and forget its releases" if purge else ""
        typer.confirm(f"Take {spec.app}/{env} down{also}?", abort=True)
    report = (lambda line: err_console.print(line, highlight=False, markup=False)) if as_json else say
    with lock_patience(wait):
        done = tear_down(spec, env, StateDB(), report, purge=purge, by=settings.author())
    result(as_json, {"app": spec.app, "env": env, "down": True, "was_running": bool(done), "purged": purge},
           f"{spec.app}/{env} is down" + ("" if done else " (nothing ran)"))


def register(app: typer.Typer) -> None:
    """Add build, deploy, promote, rollback, releases and down. (main.py calls it when one of them runs, or
    for --help.)"""
    for command in (build, deploy, promote, rollback, releases, down):
        app.command()(command)

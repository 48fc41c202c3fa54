"""lock: hold an environment by hand (nothing deploys it until released), and see who holds it."""

from __future__ import annotations

from typing import Annotated

import typer

from dockyard.cli.common import JsonOpt, console, read_app_brief, result

lock_app = typer.Typer(no_args_is_help=True, help="Deploy locks: hold an environment by hand, see who holds "
                                                  "one.\n\nExample: dockyard lock acquire production -m \"db "
                                                  "maintenance\"")


@lock_app.command("acquire")
def acquire(
    env: Annotated[str, typer.Argument(help="Environment name from dockyard.yml.")],
    message: Annotated[str, typer.Option("--message", "-m", help="Why: shown to whoever is refused.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Lock ENV by hand: every deploy, rollback, promote, scale and down of it is refused (or waits
    with --wait) until `dockyard lock release ENV`, yours too. Refused while a change runs.

    Example: dockyard lock acquire production -m "migrating the orders table by hand"
    """
    from dockyard.state.lock import take_by_hand

    brief = read_app_brief()
    brief.engine(env)  # an environment the spec defines
    holder = take_by_hand(brief.app, env, message)
    result(as_json, {"app": brief.app, "env": env, "lock": holder.as_json()},
           f"{brief.app}/{env} is locked by {holder.user}" + (f": {message}" if message else ""))


@lock_app.command("release")
def release(
    env: Annotated[str, typer.Argument(help="Environment name from dockyard.yml.")],
    force: Annotated[bool, typer.Option("--force", help="Release someone else's lock (recorded in the audit "
                                                        "log).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Release the lock taken by hand on ENV.

    Example: dockyard lock release production
    """
    from dockyard.state.lock import release_by_hand

    brief = read_app_brief()
    brief.engine(env)
    was = release_by_hand(brief.app, env, force=force)
    result(as_json, {"app": brief.app, "env": env, "released": was is not None,
                     "lock": was.as_json() if was else None},
           f"{brief.app}/{env}: " + (f"released the lock {was.describe()}" if was else "it was not locked"))


@lock_app.command("status")
def status(
    env: Annotated[str | None, typer.Argument(help="One environment (default: every one).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Who holds each environment: a lock taken by hand, a change that runs now, or nobody.

    Example: dockyard lock status
    """
    from dockyard.state.lock import hand_lock, running_holder

    brief = read_app_brief()
    envs = [env] if env else brief.env_names()
    if env:
        brief.engine(env)
    rows = [(name, hand_lock(brief.app, name), running_holder(brief.app, name)) for name in envs]
    if as_json:
        result(True, [{"app": brief.app, "env": name, "lock": hand.as_json() if hand else None,
                       "running": run.as_json() if run else None} for name, hand, run in rows])
        return
    for name, hand, run in rows:
        state = "free" if not (hand or run) else "; ".join(
            f"{label} {holder.describe()}" for label, holder in (("locked:", hand), ("changing:", run)) if holder)
        console.print(f"{brief.app}/{name}: {state}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(lock_app, name="lock")

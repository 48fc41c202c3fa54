"""`dockyard config ...` and `dockyard secret ...`: thin commands over ConfigService.

Scope: --app APP (default: `app:` of ./dockyard.yml) or --shared for the environment's keys
that every app inherits. Secrets print as *** unless --reveal.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from dockyard.cli.common import JsonOpt, print_json, result
from dockyard.config.service import ConfigService
from dockyard.config.store import check_key, scope_label
from dockyard.config.stores import open_default_store
from dockyard.errors import UsageError
from dockyard.settings import author
from dockyard.vocabulary import local_time

config_app = typer.Typer(
    help="Configuration per environment, kept apart from the image.\n\nExample: dockyard config ls staging",
    no_args_is_help=True
)
secret_app = typer.Typer(
    help="Secrets: encrypted at rest, shown as *** unless --reveal.\n\n"
         "Example: printf %s \"$PW\" | dockyard secret set production DB_PASSWORD", no_args_is_help=True
)

AppOpt = Annotated[
    str | None,
    typer.Option("--app", "-a", help="App scope (default: app of ./dockyard.yml).", show_default=False),
]
SharedOpt = Annotated[
    bool, typer.Option("--shared", help="The environment's shared keys, inherited by every app.")
]
RevealOpt = Annotated[bool, typer.Option("--reveal", help="Show secret values instead of ***.")]
KeyArg = Annotated[str, typer.Argument(metavar="KEY", help="Key, e.g. DB_HOST.", show_default=False)]
EnvArg = Annotated[str, typer.Argument(metavar="ENV", help="Environment, e.g. staging.", show_default=False)]


def _spec_keys(path: Path) -> dict[str, Any] | None:
    """app and environments of a spec file that does not validate (its problems are said by the
    commands that read it whole): the YAML alone."""
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe").load(path.read_text())
    except (OSError, YAMLError) as exc:
        raise UsageError(f"{path}: cannot read app: {exc}", hint="pass --app APP") from exc
    return data if isinstance(data, dict) else None


def _brief(path: Path) -> Any:
    """The spec's brief (spec/brief.py), or None when the spec does not validate."""
    from dockyard.errors import SpecError
    from dockyard.spec.brief import read_brief

    try:
        return read_brief(path)
    except SpecError:
        return None


def app_from_spec(path: Path | None = None) -> str | None:
    """Just the `app:` key of the spec file (-f, default ./dockyard.yml); the full spec is dockyard.spec's job."""
    from dockyard.cli.common import options

    path = path or options.spec_file
    if not path.is_file():
        return None
    brief = _brief(path)
    if brief is not None:
        return str(brief.app)
    data = _spec_keys(path)
    app = data.get("app") if data else None
    return str(app) if app else None


NewEnvOpt = Annotated[bool, typer.Option("--new-env", help="ENV is new: no dockyard.yml names it yet.")]


def envs_from_spec(path: Path | None = None) -> list[str]:
    """Just the environment names of the spec file (-f, default ./dockyard.yml), in its order."""
    from dockyard.cli.common import options

    path = path or options.spec_file
    if not path.is_file():
        return []
    brief = _brief(path)
    if brief is not None:
        return list(brief.env_names())
    try:
        data = _spec_keys(path)
    except UsageError:
        return []  # the spec's own errors are said by the commands that read it whole
    envs = data.get("environments") if data else None
    return [str(e) for e in envs] if isinstance(envs, dict) else []


def _check_env(svc: ConfigService, env: str, new_env: bool) -> None:
    """A key goes to an environment some dockyard.yml names (./dockyard.yml, or one that holds keys
    already): `prodution` is a typo, not a new environment, unless --new-env says it is."""
    if new_env:
        return
    known = envs_from_spec()
    if env in known:
        return
    stored = svc.store.environments()
    if env in stored:
        return
    from dockyard.spec import closest

    choices = known + [e for e in stored if e not in known]
    near = closest(env, choices)
    raise UsageError(f"no dockyard.yml names environment {env!r}" + (f"; did you mean {near!r}?" if near else "")
                     + (f" (known: {', '.join(choices)})" if choices and not near else ""),
                     hint="a new environment: add it to dockyard.yml, or pass --new-env")


def _scope(app: str | None, shared: bool, required: bool = True) -> str | None:
    if app and shared:
        raise UsageError("use either --app or --shared, not both")
    if shared or app:
        return app
    found = app_from_spec()
    if found or not required:
        return found
    raise UsageError(
        "which app? pass --app APP (there is no ./dockyard.yml here), "
        "or --shared for the environment's shared keys"
    )


@contextmanager
def _service() -> Iterator[ConfigService]:
    store = open_default_store()
    try:
        yield ConfigService(store)
    finally:
        store.close()


def _print_table(columns: list[str], rows: Sequence[Sequence[object]], wrap: tuple[str, ...] = ()) -> None:
    table = Table(box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, no_wrap=column not in wrap, overflow="fold")  # only values may wrap
    for row in rows:
        # Text(): user values may contain [brackets] that Rich would take for markup
        table.add_row(*(Text("" if v is None else str(v)) for v in row))
    Console(emoji=False).print(table)


def _parse_pairs(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"expected KEY=VALUE, got {pair!r}")
        if key in values:
            raise UsageError(f"{key} is given twice")
        values[check_key(key)] = value
    return values


@config_app.command("set")
def set_cmd(
    env: EnvArg,
    pairs: Annotated[list[str], typer.Argument(metavar="KEY=VALUE...", show_default=False)],
    app: AppOpt = None,
    shared: SharedOpt = False,
    secret: Annotated[
        bool, typer.Option("--secret", help="KEY's value is a secret, read from stdin (never from the command line).")
    ] = False,
    new_env: NewEnvOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Set one or more keys in one atomic change.

    Example: dockyard config set staging DB_HOST=db1.internal DB_PORT=5432 --app shop-api
    """
    if secret:
        if len(pairs) != 1 or "=" in pairs[0]:
            raise UsageError("with --secret, name one KEY and pipe its value in: a value on the command line is "
                             "seen by everyone on the host (ps, shell history)",
                             hint="printf %s \"$VALUE\" | dockyard config set ENV KEY --secret")
        secret_set_cmd(env, pairs[0], app, shared, new_env, as_json)
        return
    scope = _scope(app, shared)
    values = _parse_pairs(pairs)
    with _service() as svc:
        _check_env(svc, env, new_env)
        done = svc.set(env, scope, values, author(), secret=False)
    _written(as_json, env, scope, done, "set")


def _written(as_json: bool, env: str, scope: str | None, done: Any, verb: str) -> None:
    """What a set or an import changed: its keys, never their values."""
    label = scope_label(env, scope)
    lines = ([f"{label}: {verb} {', '.join(done.changed)} (revision {done.revision})"] if done.changed else []) + \
        ([f"{label}: unchanged {', '.join(done.unchanged)}"] if done.unchanged else [])
    result(as_json, {"env": env, "app": scope, "revision": done.revision, "changed": list(done.changed),
                     "unchanged": list(done.unchanged)}, *lines)


@config_app.command("get")
def get_cmd(
    env: EnvArg, key: KeyArg, app: AppOpt = None, shared: SharedOpt = False, reveal: RevealOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Print one value as the app sees it (its own key, else the shared one).

    Example: DB=$(dockyard config get staging DB_HOST --app shop-api)
    """
    with _service() as svc:
        value, secret = svc.get(env, _scope(app, shared), key, reveal)
    if as_json:
        print_json({"env": env, "key": key, "value": value, "secret": secret})
        return
    typer.echo(value)


@config_app.command("ls")
def ls_cmd(
    env: EnvArg,
    app: AppOpt = None,
    shared: SharedOpt = False,
    reveal: RevealOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """List the configuration an app gets: shared keys merged with its own (the app wins).

    Example: dockyard config ls production --app shop-api --json
    """
    scope = _scope(app, shared)
    with _service() as svc:
        resolved = svc.resolve(env, scope, decrypt=reveal)
    shown = resolved.display(reveal)
    if as_json:
        print_json(
            {
                "env": env,
                "app": scope,
                "revision": resolved.revision,
                "values": {
                    k: {"value": v, "secret": k in resolved.secret_keys, "source": resolved.sources[k]}
                    for k, v in shown.items()
                },
            }
        )
        return
    secret = resolved.secret_keys
    rows = [[k, v, resolved.sources[k], "yes" if k in secret else ""] for k, v in shown.items()]
    _print_table(["KEY", "VALUE", "FROM", "SECRET"], rows, wrap=("VALUE",))
    typer.echo(f"{scope_label(env, scope)}: {len(shown)} keys at revision {resolved.revision}")


@config_app.command("rm")
def rm_cmd(
    env: EnvArg,
    keys: Annotated[list[str], typer.Argument(metavar="KEY...", show_default=False)],
    app: AppOpt = None,
    shared: SharedOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete keys atomically; if any is missing, nothing is deleted.

    Example: dockyard config rm staging OLD_FLAG LEGACY_URL --app shop-api
    """
    scope = _scope(app, shared)
    with _service() as svc:
        revision = svc.delete(env, scope, keys, author())
    deleted = list(dict.fromkeys(keys))
    result(as_json, {"env": env, "app": scope, "revision": revision, "deleted": deleted},
           f"{scope_label(env, scope)}: deleted {', '.join(deleted)} (revision {revision})")


@config_app.command("history")
def history_cmd(
    env: EnvArg,
    key: Annotated[str | None, typer.Argument(show_default=False)] = None,
    app: AppOpt = None,
    shared: SharedOpt = False,
    reveal: RevealOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Show changes, newest first: the app's and the shared ones (all scopes if no app).

    Example: dockyard config history production DB_HOST --app shop-api
    """
    scope = _scope(app, shared, required=False)
    apps: list[str | None] | None = [None] if shared else ([None, scope] if scope else None)
    with _service() as svc:
        rows = svc.history(env, apps, key, reveal)
    if as_json:
        print_json(rows)
        return
    fields = ("revision", "created_at", "actor", "app", "key", "action", "old", "new")
    table = [[r[f] for f in fields] for r in rows]
    for row in table:
        row[1] = local_time(row[1])
        row[3] = row[3] or "(shared)"
    columns = ["REV", "TIME", "AUTHOR", "SCOPE", "KEY", "ACTION", "OLD", "NEW"]
    _print_table(columns, table, wrap=("OLD", "NEW"))


@config_app.command("diff")
def diff_cmd(
    env_a: Annotated[str, typer.Argument(metavar="ENV_A", show_default=False)],
    env_b: Annotated[str, typer.Argument(metavar="ENV_B", show_default=False)],
    app: AppOpt = None,
    shared: SharedOpt = False,
    reveal: RevealOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Compare what an app gets in two environments (secrets compared, shown as ***).

    Example: dockyard config diff staging production --app shop-api
    """
    scope = _scope(app, shared)
    with _service() as svc:
        entries = svc.diff(env_a, env_b, scope, reveal)
    if as_json:
        print_json({"env_a": env_a, "env_b": env_b, "app": scope, "changes": [e.__dict__ for e in entries]})
        return
    if not entries:
        typer.echo(f"no differences between {env_a} and {env_b}")
        return
    rows = [[e.key, e.change, e.a, e.b] for e in entries]
    _print_table(["KEY", "CHANGE", env_a, env_b], rows, wrap=(env_a, env_b))


@config_app.command("import")
def import_cmd(
    env: EnvArg,
    file: Annotated[Path | None, typer.Argument(metavar="FILE", help="A YAML or .env file.", show_default=False)
                    ] = None,
    old_env: Annotated[str | None, typer.Option("--env", "-e", hidden=True)] = None,
    app: AppOpt = None,
    shared: SharedOpt = False,
    secret: Annotated[list[str], typer.Option("--secret", help="Mark this key secret (repeat).")] = [],  # noqa: B006
    new_env: NewEnvOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Import a YAML or .env file into ENV in one atomic change (the whole file is checked first).

    Example: dockyard config import staging staging.env --app shop-api --secret DB_PASSWORD
    """
    if old_env is not None:  # the old order: FILE --env ENV, for one more release
        if file is not None:
            raise UsageError("give ENV FILE, or the old FILE --env ENV, not both")
        env, file = old_env, Path(env)
        typer.echo(f"warning: `config import FILE --env ENV` is the old order; say `dockyard config import {env} "
                   f"{file}` (the old order goes in a later release)", err=True)
    if file is None:
        raise UsageError("which file? dockyard config import ENV FILE")
    scope = _scope(app, shared)
    with _service() as svc:
        _check_env(svc, env, new_env)
        done = svc.import_file(file, env, scope, author(), secret)
    result(as_json, {"env": env, "app": scope, "revision": done.revision, "changed": list(done.changed),
                     "unchanged": list(done.unchanged)},
           f"{scope_label(env, scope)}: imported {len(done.changed)} keys, {len(done.unchanged)} unchanged "
           f"(revision {done.revision})")


@config_app.command("export")
def export_cmd(env: EnvArg, app: AppOpt = None, shared: SharedOpt = False, reveal: RevealOpt = False,
               as_json: JsonOpt = False) -> None:
    """Print a scope's own keys as YAML; with --reveal it imports back unchanged.

    Example: dockyard config export staging --app shop-api --reveal > staging.yml
    """
    scope = _scope(app, shared)
    with _service() as svc:
        if as_json:
            revision, values, secrets = svc.export_values(env, scope, reveal)
            print_json({"env": env, "app": scope, "revision": revision, "values": values, "secrets": secrets})
            return
        typer.echo(svc.export_yaml(env, scope, reveal), nl=False)


@secret_app.command("set")
def secret_set_cmd(env: EnvArg, key: KeyArg, app: AppOpt = None, shared: SharedOpt = False,
                   new_env: NewEnvOpt = False, as_json: JsonOpt = False) -> None:
    """Set a secret, read from stdin or a hidden prompt (never from the command line, so not in ps).

    Example: printf %s "$DB_PASSWORD" | dockyard secret set production DB_PASSWORD --app shop-api
    """
    scope = _scope(app, shared)
    check_key(key)
    with _service() as svc:  # before the value is asked for
        _check_env(svc, env, new_env)
    if sys.stdin.isatty():
        value = typer.prompt(f"{key}", hide_input=True, confirmation_prompt=True)
    else:
        value = sys.stdin.read()
        value = value.removesuffix("\n").removesuffix("\r")  # the newline echo or a heredoc adds
    if not value:
        raise UsageError(
            f"empty value for secret {key}", hint="pipe it in: printf %s VALUE | dockyard secret set ..."
        )
    with _service() as svc:
        done = svc.set(env, scope, {key: value}, author(), secret=True)
    state = f"set (revision {done.revision})" if done.changed else "unchanged"
    result(as_json, {"env": env, "app": scope, "revision": done.revision, "changed": list(done.changed),
                     "unchanged": list(done.unchanged)}, f"{scope_label(env, scope)}: secret {key} {state}")


def register(app: typer.Typer) -> None:
    """Add the config and secret groups. (main.py calls it when one of them runs, or for --help.)"""
    app.add_typer(config_app, name="config")
    app.add_typer(secret_app, name="secret")

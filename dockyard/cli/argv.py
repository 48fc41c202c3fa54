"""The command line before any CLI framework is loaded: the global --file option, the command, and
the app it is about."""

from __future__ import annotations

from pathlib import Path


def split_global(argv: list[str]) -> tuple[str | None, list[str] | None]:
    """(the --file/-f value, the arguments from the command on); None for the arguments when an
    option other than --file comes first (--help and the like), which only the full CLI answers."""
    spec_file: str | None = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("-f", "--file"):
            spec_file = args.pop(0) if args else None
        elif arg.startswith("--file="):
            spec_file = arg.removeprefix("--file=")
        elif arg.startswith("-"):
            return spec_file, None
        else:
            return spec_file, [arg, *args]
    return spec_file, None


def app_name(spec_file: Path) -> str | None:
    """The `app:` of dockyard.yml; None when it cannot be read (the full CLI reports it, with file:line).
    From the brief a command kept of these bytes (spec/brief.py), else from the YAML alone."""
    from dockyard.spec.brief import kept_brief

    kept = kept_brief(spec_file)
    if kept is not None:
        return kept.app
    from ruamel.yaml import YAML, YAMLError

    try:
        data = YAML(typ="safe").load(spec_file.read_text())
    except (OSError, UnicodeDecodeError, YAMLError):
        return None
    name = data.get("app") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


# The commands that only read (issue 30): each ends as soon as it printed, without the interpreter's
# teardown (cli/remote.entry). A command path matches by its start: ("config", "ls") is `config ls`.
READS = {("ps",), ("status",), ("releases",), ("audit",), ("events",), ("logs",), ("config", "ls"),
         ("config", "get"), ("config", "diff"), ("config", "history"), ("pipeline", "ls"), ("pipeline", "show"),
         ("token", "ls"), ("edge", "status"), ("backup", "ls"), ("app", "ls"), ("stats",), ("lock", "status")}


def ends_at_once(argv: list[str]) -> bool:
    """A read, or a help: nothing it did needs the interpreter's teardown."""
    _, rest = split_global(argv)
    if rest is None:  # `dockyard`, `dockyard --help`, `dockyard --version`
        return True
    if "--help" in rest or "-h" in rest:
        return True
    words = tuple(word for word in rest if not word.startswith("-"))
    return any(words[:len(read)] == read for read in READS)


def follows(argv: list[str]) -> bool:
    """`logs -f`, `events --follow`: a read that runs until it is stopped."""
    return any(word in ("-f", "--follow") for word in (split_global(argv)[1] or []))

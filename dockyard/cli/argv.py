"""The command line before any CLI framework is loaded: the global --file option and the command."""

from __future__ import annotations


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

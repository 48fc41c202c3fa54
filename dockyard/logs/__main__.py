"""`python -m dockyard.logs ...`: the logs commands on their own (the forwarder's container entry point)."""

from __future__ import annotations

import sys

from dockyard.errors import DockyardError


def main() -> None:
    from dockyard.cli.logs_cmds import cli

    try:
        cli()
    except DockyardError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

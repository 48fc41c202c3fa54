"""`python -m dockyard.monitor agent|stats|events`: the monitoring commands with Dockyard's error handling."""

from __future__ import annotations

import sys

from rich.markup import escape

from dockyard.cli.common import err_console
from dockyard.cli.monitor_cmds import monitor_app
from dockyard.errors import DockyardError


def main() -> None:
    try:
        monitor_app()
    except DockyardError as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

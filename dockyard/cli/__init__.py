"""The `dockyard` command: thin Typer commands that parse, check, call and print."""

# The modules other packages may import (tests/unit/test_layers.py holds it); the rest is private.
__all__ = ["common", "logs_cmds", "main", "monitor_cmds", "remote"]

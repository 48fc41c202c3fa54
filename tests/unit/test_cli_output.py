"""What the CLI prints of a user's text is that text: an emoji code in a release note, a container
name or a log line is not turned into an emoji (rich's consoles do it by default)."""

from __future__ import annotations

import pytest
from rich.table import Table

from dockyard.cli.common import console, say


def test_emoji_codes_are_printed_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    say("deployed :rocket: at last")
    table = Table("release", "note")
    table.add_row("r1", "rollback :fire: done")
    console.print(table)
    out = capsys.readouterr().out
    assert "deployed :rocket: at last" in out and ":fire:" in out
    assert "\U0001f680" not in out and "\U0001f525" not in out

"""ENV first, then NAME, across the CLI (issue 27): `accessory CMD ENV NAME`; the old order NAME ENV
still works for a release, with a warning that says the new one."""
from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.cli.accessory_cmds import env_first

SPEC = """\
app: shop
services: {web: {port: 8080}}
accessories: {db: {image: dockyard/redis:7.0, port: 6379}}
environments: {site: {}}
"""


def test_the_environment_comes_first_and_the_old_order_is_warned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dockyard.yml").write_text(SPEC)
    assert env_first("boot", "site", "db") == ("site", "db")
    assert capsys.readouterr().err == ""
    assert env_first("boot", "db", "site") == ("site", "db")
    warning = " ".join(capsys.readouterr().err.split())
    assert warning == ("warning: `dockyard accessory boot db site` is the old order; say the environment first: "
                       "`dockyard accessory boot site db` (the old order goes in a later release)")

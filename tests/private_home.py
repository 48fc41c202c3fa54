"""What under a DOCKYARD_HOME the group or others have a right to (issue 28: it must be nothing).

The trees of exported commits are left out: their files keep git's modes, which become the image's,
behind their own 0700 folder (work/APP/commits/SHA), which is checked."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def open_to_others(home: Path) -> list[str]:
    found = []
    for root, dirs, files in os.walk(home):
        for name in dirs + files:
            path = Path(root) / name
            inside = path.relative_to(home).parts
            if len(inside) > 4 and inside[0] == "work" and inside[2] == "commits":
                continue  # inside an exported tree
            mode = stat.S_IMODE(path.lstat().st_mode)
            if mode & 0o077 and not path.is_symlink():
                found.append(f"{oct(mode)} {path.relative_to(home)}")
    return found

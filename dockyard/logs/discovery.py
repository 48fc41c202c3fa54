"""Find containers: the engine's event stream (prompt, engine/events.py) plus a scan of the log
folder (complete).

Events only wake the reader: what is there is always read from the folder, so a lost event, an
engine restart or a forwarder without the Docker socket still follows every container.
"""

from __future__ import annotations

import os
from pathlib import Path


def container_ids(root: Path) -> set[str]:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return set()
    return {n for n in names if len(n) == 64 and all(c in "0123456789abcdef" for c in n)}


"""The server's own paths, out of what a run or an API error shows (issue 28).

Whoever reads a run or calls the API learns what went wrong, not how the server's disk is laid
out. A path under DOCKYARD_HOME, an app's repository on this host, the secrets' run folder and the
secret key file become names that mean something to the reader: `abc123def456:dockyard.yml` for a
file of an exported commit (git's own rev:path), "the mirror of shop", "the state database".
The CLI, run by the operator on the host, keeps its full paths.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from dockyard import settings
from dockyard.config.service import secret_key_file

Namer = Callable[[str], str]  # what lies under a place ("" or "/a/b") -> its name
# Dockyard's own files go by their names (they say what they are and not where they lie); its
# folders by what they hold
HOME_FILES = {"state.db", "config.db", "monitor.db", "settings.yml", "worker.log", "worker.lock", "server.pid"}
HOME_FOLDERS = {"locks": "a deploy lock", "router": "a balancer's folder", "edge": "the edge's folder",
                "logs": "the log store", "backups": "the backup store"}
# a path ends at a space, a quote, a bracket or a colon (file:line:, "path: message")
_TAIL = r"(/[^\s'\"`:;,()<>\[\]{}]*)?"


def home_name(tail: str) -> str:
    """The name of a path under DOCKYARD_HOME, from the part below it."""
    parts = [p for p in tail.split("/") if p]
    if not parts:
        return "DOCKYARD_HOME"
    if parts[0] == "work" and len(parts) >= 2:
        app = parts[1]
        if len(parts) >= 4 and parts[2] == "commits":
            inside = "/".join(parts[4:])
            return f"{parts[3][:12]}:{inside}" if inside else f"commit {parts[3][:12]}"
        if len(parts) >= 3 and parts[2] == "mirror.git":
            return f"the mirror of {app}"
        return f"the work folder of {app}"
    if parts[0].split("-")[0] in HOME_FILES:  # state.db-wal is state.db's too
        return parts[0]
    return HOME_FOLDERS.get(parts[0], "a file of DOCKYARD_HOME")


class Places:
    def __init__(self, places: Mapping[str, Namer]) -> None:
        self._namers = {p.rstrip("/"): n for p, n in places.items() if p.rstrip("/")}
        longest_first = sorted(self._namers, key=len, reverse=True)
        alternatives = "|".join(re.escape(p) for p in longest_first)
        self._pattern = re.compile(f"(?:file://)?({alternatives})(?![\\w.@+-]){_TAIL}") if longest_first else None

    def hide(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda m: self._namers[m.group(1)](m.group(2) or ""), text)


def _spellings(path: str) -> set[str]:
    """A path as given and as resolved (a symlinked /tmp, a relative DOCKYARD_HOME)."""
    found = {path}
    try:
        found.add(str(Path(path).expanduser().resolve()))
    except (OSError, RuntimeError):
        pass
    return {p for p in found if p.startswith("/") and p != "/"}


def server_places(repos: Iterable[tuple[str, str]] = ()) -> Places:
    """The places of this server: its home, its run folder, its secret key file, and each app's
    repository that is a path on this host ((app, repo) pairs)."""
    places: dict[str, Namer] = {}
    for app, repo in repos:
        path = repo.removeprefix("file://")
        if path.startswith("/"):
            places |= dict.fromkeys(_spellings(path), named(f"the repository of {app}"))
    places |= dict.fromkeys(_spellings(os.environ.get("DOCKYARD_RUN") or "/run/dockyard"),
                            named("Dockyard's run folder"))
    places |= dict.fromkeys(_spellings(str(secret_key_file())), named("the secret key file"))
    places |= dict.fromkeys(_spellings(str(settings.home())), home_name)
    return Places(places)


def named(name: str) -> Namer:
    """A place whose every path has one name."""
    return lambda _tail: name

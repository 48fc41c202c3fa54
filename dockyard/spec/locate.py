"""Turn ruamel's round-trip tree into plain data plus a line for every key path.

pydantic validates plain dicts and lists and reports `loc` paths; this index maps
those paths back to the line the user wrote, so every problem can name file:line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scalarfloat import ScalarFloat
from ruamel.yaml.scalarint import ScalarInt

Loc = tuple[Any, ...]
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass
class Located:
    """Plain data and the 1-based line of each key (mappings) or item (sequences)."""

    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line(self, loc: Loc) -> int:
        """The line of `loc`, else of its nearest parent (a missing key is reported on its parent)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1


def locate(root: Any) -> Located:
    located = Located(data=None)
    located.lines[()] = _own_line(root)
    located.data = _walk(root, (), located.lines)
    return located


def _own_line(node: Any) -> int:
    lc = getattr(node, "lc", None)
    return lc.line + 1 if lc is not None and lc.line is not None else 1


def _walk(node: Any, loc: Loc, lines: dict[Loc, int]) -> Any:
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for key, value in node.items():
            plain = _scalar(key)
            try:
                lines[(*loc, plain)] = node.lc.key(key)[0] + 1
            except (KeyError, TypeError):  # keys merged in with '<<: *anchor' have no position here
                lines[(*loc, plain)] = _own_line(node)
            out[plain] = _walk(value, (*loc, plain), lines)
        return out
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for index, value in enumerate(node):
            try:
                lines[(*loc, index)] = node.lc.item(index)[0] + 1
            except (KeyError, TypeError):
                lines[(*loc, index)] = _own_line(node)
            items.append(_walk(value, (*loc, index), lines))
        return items
    return _scalar(node)


def _scalar(value: Any) -> Any:
    """ruamel's scalar subclasses (kept for round-tripping) as the plain Python types."""
    if isinstance(value, ScalarBoolean):
        return bool(value)
    if isinstance(value, ScalarInt):
        return int(value)
    if isinstance(value, ScalarFloat):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, dict, tuple)):  # a complex mapping key: show it, do not crash
        return str(value)
    return value


def dotted(loc: Loc) -> str:
    """A key path as the user reads it: services.web.command[2], config.files['/etc/app.conf']."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{str(part)!r}]"
    return out

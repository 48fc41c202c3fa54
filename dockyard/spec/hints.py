"""Small wording helpers shared by the spec validators, checks, error formatter and brief.

Kept in one place so every message shows values and suggestions the same way.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic_core import PydanticCustomError

ERROR_TYPE = "spec"  # pydantic error type for messages already written for the user


def fail(message: str) -> PydanticCustomError:
    """A validation error whose text is printed as-is after 'file:line: key.path:'."""
    from pydantic_core import PydanticCustomError  # only while validating: brief.py's names load without it

    return PydanticCustomError(ERROR_TYPE, message)


def show(value: Any) -> str:
    """How a YAML value is shown after 'got': scalars as written, containers by kind."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def closest(word: Any, choices: Iterable[Any]) -> str | None:
    """The nearest valid name, or None when nothing is close enough to be a typo."""
    names = [str(c) for c in choices]
    prefixed = [n for n in names if n.lower().startswith(str(word).lower())]
    if str(word) and len(prefixed) == 1:  # 'prod' for 'production'
        return prefixed[0]
    found = difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    return found[0] if found else None


def unknown_key(word: Any, allowed: Iterable[Any]) -> str:
    """'unknown key; did you mean X?', else the allowed keys."""
    names = [str(a) for a in allowed]
    near = closest(word, names)
    if near:
        return f"unknown key; did you mean {near!r}?"
    return f"unknown key; allowed keys: {', '.join(names)}"


def unknown_ref(kind: str, word: Any, defined: Iterable[Any], where: str) -> str:
    """A reference to a name that is not defined: always lists the defined ones."""
    names = [str(d) for d in defined]
    if not names:
        return f"unknown {kind} {show(word)}; none are defined under '{where}'"
    near = closest(word, names)
    tip = f"; did you mean {near!r}?" if near else ""
    return f"unknown {kind} {show(word)} (defined: {', '.join(names)}){tip}"


def not_found(kind: str, name: str, known: list[str], source: str) -> tuple[str, str]:
    """The message and hint for a name dockyard.yml does not define."""
    near = closest(name, known)
    hint = f"did you mean {near!r}?" if near else f"add it to {source} or use one of: {', '.join(known)}"
    return f"no {kind} {name!r} in {source} (defined: {', '.join(known)})", hint

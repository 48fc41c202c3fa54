"""pydantic errors -> (key path, message) pairs worded for someone editing dockyard.yml.

pydantic's own texts ('Input should be a valid integer') say neither what is allowed
nor where; each error type gets a sentence here, with the allowed keys or values.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from dockyard.spec.hints import ERROR_TYPE, show, unknown_key
from dockyard.spec.locate import Loc

_KEY_MARK = "[key]"  # pydantic appends this to the loc of a bad mapping key

_TYPE_WORDS = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
}

_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


def describe(error: ErrorDetails, root: type[BaseModel]) -> tuple[Loc, str]:
    """The key path the error is about and one sentence: what is wrong, and what is allowed."""
    loc: Loc = tuple(error["loc"])
    if loc and loc[-1] == _KEY_MARK:
        loc = loc[:-1]
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == ERROR_TYPE:
        return loc, error["msg"]
    if kind == "missing":
        return loc, _missing(loc, root)
    if kind == "extra_forbidden":
        parent = model_at(root, loc[:-1])
        return loc, unknown_key(loc[-1], list(parent.model_fields) if parent else [])
    if kind in _BOUNDS:
        sign, name = _BOUNDS[kind]
        bound = ctx.get(name)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return loc, f"must be {sign} {bound}, got {show(value)}"
    if kind in ("model_type", "model_attributes_type"):
        model = model_at(root, loc)
        keys = f" with keys {', '.join(model.model_fields)}" if model else ""
        return loc, f"must be a mapping{keys}, got {show(value)}"
    if kind in _TYPE_WORDS:
        return loc, f"must be {_TYPE_WORDS[kind]}, got {show(value)}"
    if kind == "literal_error":
        return loc, f"must be {ctx.get('expected')}, got {show(value)}"
    if kind == "invalid_key":
        return loc, f"keys must be names, got {show(value)}"
    if kind == "too_short":
        return loc, f"must have at least {ctx.get('min_length')} entries"
    return loc, f"{error['msg']}, got {show(value)}"


def _missing(loc: Loc, root: type[BaseModel]) -> str:
    parent = model_at(root, loc[:-1])
    field = parent.model_fields.get(loc[-1]) if parent else None
    if field is not None and field.description:
        return f"required key is missing: {field.description}"
    return "required key is missing"


def model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the mapping at `loc`, following fields, dicts and lists."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and '| None' to reach the type that shapes the value."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [a for a in get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation

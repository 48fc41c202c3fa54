"""Value types of dockyard.yml: durations, sizes, ports, names, commands.

Each is an Annotated type whose validator raises a message written for the user,
so a bad value reads 'must be a duration like 1s ..., got 'x'' rather than pydantic's text.
"""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from dockyard.spec.hints import fail, show

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|d|h|m|s)")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|d|h|m|s))+")
_DURATION_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)([kmgt]?)(?:i?b)?", re.IGNORECASE)
_SIZE_SCALE = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_duration(value: Any) -> float:
    """'500ms', '1s', '2m', '1h', '3d', '1m30s' or a number of seconds -> float seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return float(text)
        if _DURATION.fullmatch(text):
            return sum(float(n) * _DURATION_SCALE[unit] for n, unit in _DURATION_PART.findall(text))
    raise fail(f"must be a duration like 500ms, 1s, 2m, 1h, 3d or a number of seconds, got {show(value)}")


def parse_size(value: Any) -> int:
    """'512k', '128m', '1g' (powers of 1024, as Docker reads them) or a number of bytes -> int bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip())
        if match:
            return int(float(match.group(1)) * _SIZE_SCALE[match.group(2).lower()])
    raise fail(f"must be a size like 512k, 128m, 1g or a number of bytes, got {show(value)}")


def _no_bool(value: Any) -> Any:
    """pydantic would read true as 1; in a count or a port that is always a mistake."""
    if isinstance(value, bool):
        raise fail(f"must be a number, got {show(value)}")
    return value


def _text(value: Any) -> Any:
    """YAML reads 8080 and true as numbers and booleans; where a string is meant, keep them as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _argv(value: Any) -> Any:
    """A command: a list of words, or one string split the way a shell would."""
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as exc:
            raise fail(f"cannot split {value!r} into words: {exc}") from exc
        if not words:
            raise fail("must not be empty")
        return words
    if isinstance(value, list):
        if not value:
            raise fail("must not be empty")
        return [_text(v) for v in value]
    raise fail(f"must be a list of words or one string, got {show(value)}")


def _shell(value: Any) -> Any:
    """A test command: a list of words, or one string run by 'sh -c'."""
    if isinstance(value, str):
        if not value.strip():
            raise fail("must not be empty")
        return ["sh", "-c", value]
    return _argv(value)


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise fail(f"must be a port between 1 and 65535, got {value}")
    return value


def _percent(value: float) -> float:
    if not 1 <= value <= 100:
        raise fail(f"must be a percentage between 1 and 100, got {value:g}")
    return value


def _named(what: str, pattern: str, rule: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise fail(f"invalid {what} {value!r}: {rule}")
        return value

    return AfterValidator(check)


def _lower_name(what: str, longest: int) -> AfterValidator:
    return _named(
        what,
        rf"[a-z][a-z0-9-]{{0,{longest - 1}}}",
        f"use lowercase letters, digits and '-', starting with a letter, at most {longest} characters",
    )


def _absolute(value: str) -> str:
    if not value.startswith("/"):
        raise fail(f"must be an absolute path inside the container, got {value!r}")
    return value


def non_empty(text: str) -> AfterValidator:
    """For values that must have something in them (services, environments, paths)."""

    def check(value: Any) -> Any:
        if not value:
            raise fail(text)
        return value

    return AfterValidator(check)


_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def _hostname(value: str) -> str:
    """A DNS name the edge answers for (RFC 1123), written in lowercase; no wildcard, no port."""
    name = value.strip().rstrip(".").lower() if isinstance(value, str) else value
    why = None
    if not name:
        why = "it is empty"
    elif "*" in name:
        why = "wildcards are not served (list each name)"
    elif ":" in name or "/" in name:
        why = "write the name alone, without scheme, port or path"
    elif len(name) > 253:
        why = "longer than 253 characters"
    elif any(not _LABEL.fullmatch(label) for label in name.split(".")):
        why = "each dot-separated part must be 1-63 letters, digits or '-', not starting or ending with '-'"
    elif name.replace(".", "").isdigit():
        why = "an IP address is not a domain"
    if why:
        raise fail(f"{value!r} is not a hostname: {why}")
    return name


def _capability(value: str) -> str:
    """A Linux capability as Docker names it: NET_BIND_SERVICE (CAP_ and any case accepted)."""
    name = value.strip().upper().removeprefix("CAP_") if isinstance(value, str) else value
    if not isinstance(name, str) or not re.fullmatch(r"[A-Z][A-Z_]{1,30}", name) or name == "ALL":
        raise fail(f"must be a capability like NET_BIND_SERVICE, got {value!r}")
    return name


ACME_CHALLENGE = "/.well-known/acme-challenge"  # the edge answers the ACME CA there, for every name


def _path_prefix(value: str) -> str:
    if not re.fullmatch(r"/([A-Za-z0-9._~-]+/?)*", value):
        raise fail(f"must be a URL path prefix like /api (letters, digits, '.', '_', '~', '-'), got {value!r}")
    path = value.rstrip("/") or "/"
    if path != "/" and (ACME_CHALLENGE + "/").startswith(path + "/") or path.startswith(ACME_CHALLENGE + "/"):
        raise fail(f"{path} would take {ACME_CHALLENGE}/, where the edge answers the certificate authority")
    return path


Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Size = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]
Count = Annotated[int, BeforeValidator(_no_bool), Field(ge=0)]
Port = Annotated[int, BeforeValidator(_no_bool), AfterValidator(_port)]
Percent = Annotated[float, BeforeValidator(_no_bool), AfterValidator(_percent)]
Text = Annotated[str, BeforeValidator(_text)]
Argv = Annotated[list[str], BeforeValidator(_argv)]
ShellArgv = Annotated[list[str], BeforeValidator(_shell)]
AbsPath = Annotated[str, AfterValidator(_absolute)]
NonEmptyText = Annotated[str, non_empty("must not be empty")]
Hostname = Annotated[str, BeforeValidator(_text), AfterValidator(_hostname)]
PathPrefix = Annotated[str, BeforeValidator(_text), AfterValidator(_path_prefix)]
Capability = Annotated[str, BeforeValidator(_capability)]

AppName = Annotated[str, _lower_name("app name", 41)]
ServiceName = Annotated[str, _lower_name("service name", 31)]
EnvName = Annotated[str, _lower_name("environment name", 21)]
JobName = Annotated[str, _lower_name("job name", 31)]
VolumeName = Annotated[str, _lower_name("volume name", 31)]
TestName = Annotated[
    str, _named("test name", r"[A-Za-z0-9][A-Za-z0-9_.-]*", "use letters, digits, '_', '.' and '-'")
]
RegistryName = Annotated[
    str, _named("registry name", r"[A-Za-z0-9][A-Za-z0-9_.-]*", "use letters, digits, '_', '.' and '-'")
]
EnvKey = Annotated[
    str,
    _named(
        "variable name", r"[A-Za-z_][A-Za-z0-9_]*", "use letters, digits and '_', not starting with a digit"
    ),
]
ConfigKey = Annotated[
    str,
    _named(
        "config key",
        r"[A-Za-z_][A-Za-z0-9_.-]*",
        "use letters, digits, '_', '.' and '-', starting with a letter or '_'",
    ),
]
RegistryAddress = Annotated[
    str,
    _named(
        "registry address",
        r"[A-Za-z0-9.-]+(:\d{1,5})?(/[a-z0-9._/-]+)?",
        "write it as host[:port][/path-prefix], e.g. 127.0.0.1:5000",
    ),
]

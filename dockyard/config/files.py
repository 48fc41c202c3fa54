"""Config files for import/export: YAML and .env, parsed whole with file:line errors.

YAML comes in two shapes. The export shape:
    values:  {DB_HOST: db1, PORT: "5432"}
    secrets: {DB_PASSWORD: s3cret}       # "***" unless exported with --reveal
or a flat mapping of plain values (KEY: value). Values are taken as written (`1.10` stays
"1.10", not 1.1): we read YAML's node tree, not the Python objects it would load into.
A .env file is KEY=VALUE lines; `export `, comments, and '...' or "..." quoting are accepted.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dockyard.config.store import is_valid_key
from dockyard.errors import ConfigError

_NULL = "tag:yaml.org,2002:null"
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


@dataclass
class ParsedFile:
    name: str
    values: dict[str, str] = field(default_factory=dict)
    secrets: set[str] = field(default_factory=set)
    lines: dict[str, int] = field(default_factory=dict)  # key -> 1-based line, for later errors
    problems: list[str] = field(default_factory=list)

    def add(self, key: str, value: str, line: int, secret: bool = False) -> None:
        if not is_valid_key(key):
            self.problems.append(f"{self.name}:{line}: invalid key {key!r} (use letters, digits, _ . -)")
        elif key in self.values:
            self.problems.append(f"{self.name}:{line}: {key} is set twice (first on line {self.lines[key]})")
        else:
            self.values[key], self.lines[key] = value, line
            if secret:
                self.secrets.add(key)

    def raise_problems(self) -> None:
        if self.problems:
            raise ConfigError(
                "\n".join(self.problems), hint="fix the file and import again; nothing was imported"
            )


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "nothing (null)"


def _read_mapping(parsed: ParsedFile, node: MappingNode, secret: bool) -> None:
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, ScalarNode):
            parsed.problems.append(f"{parsed.name}:{line}: a key must be a plain name")
            continue
        key = str(key_node.value)
        if not isinstance(value_node, ScalarNode) or value_node.tag == _NULL:
            parsed.problems.append(
                f"{parsed.name}:{line}: {key}: expected one value, got {_kind(value_node)} "
                '(write "" for an empty string)'
            )
            continue
        parsed.add(key, str(value_node.value), line, secret)


def parse_yaml(text: str, name: str) -> ParsedFile:
    parsed = ParsedFile(name)
    try:
        root = YAML().compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        parsed.problems.append(f"{name}:{line}: invalid YAML: {exc.problem or exc.context}")
        return parsed
    except YAMLError as exc:
        parsed.problems.append(f"{name}:1: invalid YAML: {exc}")
        return parsed
    if root is None:
        return parsed
    if not isinstance(root, MappingNode):
        parsed.problems.append(f"{name}:{root.start_mark.line + 1}: expected a mapping of KEY: value")
        return parsed
    sections = {str(k.value): v for k, v in root.value if isinstance(k, ScalarNode)}
    structured = (
        bool(sections)
        and len(sections) == len(root.value)
        and all(key in ("values", "secrets") and isinstance(v, MappingNode) for key, v in sections.items())
    )
    if not structured:
        _read_mapping(parsed, root, secret=False)
        return parsed
    for section, node in sections.items():
        assert isinstance(node, MappingNode)
        _read_mapping(parsed, node, secret=section == "secrets")
    return parsed


def _dotenv_value(raw: str) -> tuple[str, str | None]:
    """(value, error) for the text after '='."""
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        quote, i = raw[0], 1
        out: list[str] = []
        while i < len(raw):
            ch = raw[i]
            if ch == quote:
                rest = raw[i + 1 :].strip()
                if rest and not rest.startswith("#"):
                    return "", f"unexpected text after the closing quote: {rest!r}"
                return "".join(out), None
            if ch == "\\" and quote == '"' and i + 1 < len(raw):
                i += 1
                out.append(_ESCAPES.get(raw[i], "\\" + raw[i]))
            else:
                out.append(ch)
            i += 1
        return "", f"unterminated {quote} quote (values must fit on one line)"
    for i, ch in enumerate(raw):
        if ch == "#" and (i == 0 or raw[i - 1] in " \t"):
            return raw[:i].rstrip(), None
    return raw, None


def parse_dotenv(text: str, name: str) -> ParsedFile:
    parsed = ParsedFile(name)
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export ") :].lstrip()
        key, sep, raw = stripped.partition("=")
        if not sep:
            parsed.problems.append(f"{name}:{number}: expected KEY=VALUE, got {stripped!r}")
            continue
        value, error = _dotenv_value(raw)
        if error:
            parsed.problems.append(f"{name}:{number}: {key.strip()}: {error}")
            continue
        parsed.add(key.strip(), value, number)
    return parsed


def parse_file(path: Path) -> ParsedFile:
    """Parse a .yml/.yaml or .env file; problems are collected, not raised."""
    name = path.name.lower()
    if name.endswith((".yml", ".yaml")):
        parser = parse_yaml
    elif name == ".env" or name.startswith(".env.") or name.endswith(".env"):
        parser = parse_dotenv
    else:
        raise ConfigError(f"{path}: cannot tell the format: name it *.yml, *.yaml, *.env or .env")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from exc
    return parser(text, str(path))


def dump_yaml(values: dict[str, str], secrets: dict[str, str], header: str = "") -> str:
    """The export shape; ruamel quotes strings that would otherwise load as numbers or booleans."""
    doc: dict[str, dict[str, str]] = {"values": dict(sorted(values.items()))}
    if secrets:
        doc["secrets"] = dict(sorted(secrets.items()))
    out = io.StringIO()
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.dump(doc, out)
    lines = "".join(f"# {line}\n" for line in header.splitlines())
    return lines + out.getvalue()

"""Read dockyard.yml into an AppSpec, or raise SpecError listing every problem with file:line.

One pass collects YAML, schema and cross-reference problems, so a user fixes them all
in one edit instead of meeting them one run at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from dockyard.errors import SpecError
from dockyard.spec.checks import Problem, check_references, check_templates
from dockyard.spec.locate import Located, dotted, locate
from dockyard.spec.model import AppSpec
from dockyard.spec.problems import describe

SPEC_FILE = "dockyard.yml"
MAX_SPEC_BYTES = 512 * 1024  # a real dockyard.yml is a few KiB; a commit's file is untrusted input
MAX_SPEC_NODES = 50_000  # values after expanding every alias: refuses an alias bomb before it is walked


def load_spec(path: str | Path = SPEC_FILE) -> AppSpec:
    """Read the file (or SPEC_FILE inside a directory); also checks that config templates exist."""
    path = Path(path)
    if path.is_dir():
        path = path / SPEC_FILE
    name = str(path)
    try:
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError([f"{name}: larger than {MAX_SPEC_BYTES // 1024} KiB; a dockyard.yml is a few KiB"])
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise SpecError([f"{name}: file not found; create one with 'dockyard init'"]) from exc
    except UnicodeDecodeError as exc:
        raise SpecError([f"{name}: not a UTF-8 text file"]) from exc
    except OSError as exc:
        raise SpecError([f"{name}: cannot read: {exc.strerror}"]) from exc
    return _parse(text, name, path.absolute().parent, check_files=True)


def parse_spec(text: str, filename: str = SPEC_FILE, base_dir: str | Path | None = None) -> AppSpec:
    """Parse text without touching the disk; `base_dir` (default: cwd) anchors relative paths."""
    return _parse(text, filename, Path(base_dir) if base_dir is not None else Path.cwd(), check_files=False)


def _parse(text: str, filename: str, base_dir: Path, check_files: bool) -> AppSpec:
    located = _read_yaml(text, filename)
    data = located.data
    problems: list[Problem] = []
    spec: AppSpec | None = None
    try:
        spec = AppSpec.model_validate(data)
    except ValidationError as exc:
        problems += [describe(error, AppSpec) for error in exc.errors()]
    problems += check_references(data)
    if check_files:
        problems += check_templates(data, base_dir)
    if problems or spec is None:
        raise SpecError(_format(problems, located, filename))
    spec._base_dir = base_dir
    spec._source = filename
    spec._lines = located.lines
    return spec


def _read_yaml(text: str, filename: str) -> Located:
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError([f"{filename}: larger than {MAX_SPEC_BYTES // 1024} KiB; a dockyard.yml is a few KiB"])
    try:
        root: Any = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        raise SpecError([_yaml_problem(exc, filename)]) from exc
    except YAMLError as exc:
        raise SpecError([f"{filename}: invalid YAML ({type(exc).__name__})"]) from exc
    if root is None:
        raise SpecError([f"{filename}:1: the file is empty; 'dockyard init' writes a starter"])
    if not isinstance(root, dict):
        # Name the kind only: echoing the value would print any file the path points at.
        raise SpecError([f"{filename}:1: must be a mapping with app, services and environments, "
                         f"got {_kind(root)}"])
    if expanded_size(root) > MAX_SPEC_NODES:
        raise SpecError([f"{filename}: more than {MAX_SPEC_NODES} values once its aliases (*name) are expanded; "
                         "refusing to read it"])
    return locate(root)


def _kind(value: Any) -> str:
    return "a list" if isinstance(value, list) else "a single value" if value is not None else "nothing"


def expanded_size(root: Any) -> int:
    """How many values the tree holds once every alias is expanded, counted without expanding:
    an alias is a shared object, so each object's size is computed once (memo by id). Depth-first
    with an explicit stack, so deep nesting cannot exhaust the interpreter's recursion; a
    self-referencing alias expands forever and counts as too many."""
    too_many = MAX_SPEC_NODES + 1
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        children = [*node.keys(), *node.values()] if isinstance(node, dict) else \
            list(node) if isinstance(node, list) else []
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), too_many)
        elif id(node) in sizes:
            continue
        elif not children:
            sizes[id(node)] = 1
        else:
            if any(id(c) in open_nodes or c is node for c in children):
                return too_many
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(root)]


def _yaml_problem(exc: MarkedYAMLError, filename: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
    problem = exc.problem or exc.context or "cannot parse"
    if "'\\t'" in problem:
        problem += " (indent with spaces, not tabs)"
    if exc.context and exc.context_mark and exc.problem:
        problem += f" ({exc.context} started at line {exc.context_mark.line + 1})"
    return f"{where}: invalid YAML: {problem}"


def _format(problems: list[Problem], located: Located, filename: str) -> list[str]:
    """One line per problem, in file order, each naming file:line and the key path."""
    lines: list[tuple[int, str]] = []
    for loc, message in problems:
        line = located.line(loc)
        path = dotted(loc)
        text = f"{filename}:{line}: {path}: {message}" if path else f"{filename}:{line}: {message}"
        if (line, text) not in lines:
            lines.append((line, text))
    return [text for _, text in sorted(lines, key=lambda item: item[0])]

"""Render config files from Jinja2 templates in the app's repo, with the resolved values.

Values are top-level variables ({{ DB_HOST }}) and also the `config` dict, for keys that
are not Python names ({{ config['cache.ttl'] }}). StrictUndefined: a missing value is an
error naming template:line and the variable, never an empty string in production.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from dockyard.errors import ConfigError

if TYPE_CHECKING:  # imported where a template is rendered: a rollback never pays for it
    import jinja2

_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")


def _template_line(tb: TracebackType | None, base_dir: Path) -> tuple[str, int] | None:
    """Jinja rewrites tracebacks so template frames carry the template's file and line;
    the innermost one is where rendering failed (it may be an included template)."""
    found, base = None, str(base_dir).rstrip("/") + "/"
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(base):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _relative(filename: str, base_dir: Path) -> str:
    try:
        return str(Path(filename).resolve().relative_to(base_dir.resolve()))
    except ValueError:
        return filename


def _environment(base_dir: Path) -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(base_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,  # config files usually end with a newline; keep it
        autoescape=False,  # these are config files, not HTML
    )


def _undefined(exc: jinja2.UndefinedError, relpath: str, target: str, base_dir: Path) -> ConfigError:
    place = _template_line(exc.__traceback__, base_dir)
    where = f"{_relative(place[0], base_dir)}:{place[1]}" if place else relpath
    match = _UNDEFINED_NAME.search(exc.message or "")
    name = next((g for g in match.groups() if g), None) if match else None
    what = f"undefined variable {name!r}" if name else str(exc.message)
    return ConfigError(
        f"{where}: {what} (rendering {target})",
        hint="set it with: dockyard config set ENV KEY=VALUE, or guard it with {% if KEY is defined %}",
    )


def render_files(files: Mapping[str, str], base_dir: Path, values: Mapping[str, str]) -> dict[str, bytes]:
    """Render {target_path: template_relpath}; returns {target_path: content}."""
    import jinja2

    base_dir = base_dir.resolve()  # so template frames can be matched to it in tracebacks
    env = _environment(base_dir)
    context = {**values, "config": dict(values)}
    out: dict[str, bytes] = {}
    for target, relpath in files.items():
        try:
            out[target] = env.get_template(relpath).render(context).encode()
        except jinja2.TemplateNotFound as exc:
            raise ConfigError(
                f"template {exc.name} (for {target}) not found under {base_dir}",
                hint="config.files maps a target path to a template path relative to the app directory",
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            where = _relative(exc.filename, base_dir) if exc.filename else relpath
            raise ConfigError(f"{where}:{exc.lineno}: template syntax error: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            raise _undefined(exc, relpath, target, base_dir) from None
        except jinja2.TemplateError as exc:
            raise ConfigError(f"{relpath}: cannot render {target}: {exc}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{relpath}: template is not UTF-8 text") from None
    return out

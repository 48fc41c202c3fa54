"""Render config files from Jinja2 templates in the app's repo, with the resolved values.

Values are top-level variables ({{ DB_HOST }}) and also the `config` dict, for keys that
are not Python names ({{ config['cache.ttl'] }}). StrictUndefined: a missing value is an
error naming template:line and the variable, never an empty string in production.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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


def _inside_loader(base_dir: Path) -> jinja2.BaseLoader:
    """A FileSystemLoader that refuses a template whose real path (symlinks followed) leaves
    base_dir: a committed `x.j2 -> /etc/...` must not render a file of the host."""
    import jinja2

    class InsideLoader(jinja2.FileSystemLoader):
        def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
            # Checked before anything is opened: a link to a FIFO or a device must not even be read.
            if not (base_dir / template).resolve().is_relative_to(base_dir):
                raise ConfigError(f"template {template} resolves outside the app directory; "
                                  "templates (and their includes) must be files of the repository",
                                  hint="name a file of the repository (no ..; a symlink must point inside it)")
            return super().get_source(environment, template)

    return InsideLoader(str(base_dir))


def _environment(base_dir: Path) -> jinja2.Environment:
    # The sandbox: a template is code from a commit, rendered with the secrets in its context by a
    # process that can reach every environment. It may read values, never call into Python.
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        loader=_inside_loader(base_dir),
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


def split_secret_files(files: Mapping[str, bytes], secrets: Mapping[str, str]
                       ) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(plain files, files holding a secret value): the second kind must never be written into a
    container's writable layer, where `docker diff` and `docker cp` would show it."""
    needles = [v.encode() for v in secrets.values() if v]
    plain: dict[str, bytes] = {}
    holding: dict[str, bytes] = {}
    for target, data in files.items():
        (holding if any(n in data for n in needles) else plain)[target] = data
    return plain, holding


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
            ) from exc
        except jinja2.TemplateSyntaxError as exc:
            where = _relative(exc.filename, base_dir) if exc.filename else relpath
            raise ConfigError(f"{where}:{exc.lineno}: template syntax error: {exc.message}") from exc
        except jinja2.exceptions.SecurityError as exc:
            raise ConfigError(f"{relpath}: refused while rendering {target}: {exc} "
                              "(templates render in a sandbox: values and filters only)") from exc
        except jinja2.UndefinedError as exc:
            raise _undefined(exc, relpath, target, base_dir) from exc
        except jinja2.TemplateError as exc:
            raise ConfigError(f"{relpath}: cannot render {target}: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{relpath}: template is not UTF-8 text") from exc
    return out

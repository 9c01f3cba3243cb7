"""The Jinja2 environment every renderer shares: strict variables, YAML-safe filters, a bytecode cache.

Rendering is pure: templates become strings (``StrictUndefined``: a missing
variable is an error naming the template, its line and the variable); writing
them is :mod:`ticketctl.render.files`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ticketctl.config.resources import templates_dir
from ticketctl.config.settings import Settings
from ticketctl.errors import ConfigError


def yaml_str(value: Any) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(str(value), ensure_ascii=False)


def compose_str(value: Any) -> str:
    """A YAML string that Compose will not interpolate: ``$`` becomes ``$$``."""
    return yaml_str(str(value).replace("$", "$$"))


def duration(seconds: float) -> str:
    if float(seconds).is_integer():
        return f"{int(seconds)}s"
    return f"{int(seconds * 1000)}ms"


# The options shape the compiled templates, so they also name the bytecode cache's folder.
ENVIRONMENT_OPTIONS: dict[str, Any] = {
    "trim_blocks": True,
    "lstrip_blocks": True,
    "keep_trailing_newline": True,
    "autoescape": False,
}


def make_environment(search_path: list[Path]) -> Any:
    """A Jinja2 environment that fails on any undefined variable."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(path) for path in search_path]),
        undefined=jinja2.StrictUndefined,
        bytecode_cache=_bytecode_cache(jinja2),
        **ENVIRONMENT_OPTIONS,
    )
    environment.filters.update(yaml_str=yaml_str, compose_str=compose_str, duration=duration)
    return environment


def _bytecode_cache(jinja2: Any) -> Any:
    """Compiled templates kept between runs, in ``$XDG_CACHE_HOME/ticketctl`` (default ``~/.cache``).

    Compiling the four compose templates takes 16 ms of a 150 ms ``render`` (and of
    every ``up``); loading them compiled takes under 1 ms. Jinja2 stores each
    template's source checksum and its own bytecode and Python versions with the
    code and compiles again when one differs, so an edited template is never
    served stale. The cache is only an optimisation: a folder that cannot be
    created, read or written means no cache, without a word.
    """

    class QuietBytecodeCache(jinja2.FileSystemBytecodeCache):  # type: ignore[misc]
        def load_bytecode(self, bucket: Any) -> None:
            try:
                super().load_bytecode(bucket)
            except Exception:  # unreadable or corrupt: compile instead
                bucket.reset()

        def dump_bytecode(self, bucket: Any) -> None:
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)

    base = Path(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"))
    if not base.is_absolute():  # no home folder: never create a relative '~' folder here
        return None
    options = hashlib.sha256(repr(sorted(ENVIRONMENT_OPTIONS.items())).encode()).hexdigest()[:12]
    folder = base / "ticketctl" / f"jinja2-{options}"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return None
    return QuietBytecodeCache(str(folder))


def template_search_path(settings: Settings) -> list[Path]:
    path = [templates_dir()]
    if settings.templates_dir is not None:
        if not settings.templates_dir.is_dir():
            raise ConfigError(
                f"templates_dir: {settings.templates_dir}: folder not found",
                hint="create it or remove the templates_dir setting to use the packaged templates",
            )
        path.insert(0, settings.templates_dir)
    return path


def render_template(environment: Any, name: str, context: Mapping[str, Any]) -> str:
    """Render one template; template errors become a ConfigError naming file and line."""
    import jinja2

    try:
        template = environment.get_template(name)
        return str(template.render(**context))
    except jinja2.TemplateSyntaxError as error:
        where = f"{error.filename or name}:{error.lineno}"
        raise ConfigError(f"{where}: template syntax error: {error.message}", hint="fix the template") from None
    except jinja2.UndefinedError as error:
        where = _template_location(error, name)
        raise ConfigError(
            f"{where}: template variable {error.message}",
            hint=f"fix the variable's name in the template; it can use: {', '.join(sorted(context))}",
        ) from None
    except jinja2.TemplateNotFound as error:
        raise ConfigError(f"template {error.name} not found", hint="restore it in templates_dir") from None


def _template_location(error: BaseException, name: str) -> str:
    """``file:line`` of the template frame where Jinja2 raised (it rewrites tracebacks)."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if frame.filename.endswith(name):
            return f"{frame.filename}:{frame.lineno}"
    return name

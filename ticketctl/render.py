"""Render the stack model into files, and write them safely.

Rendering is pure: :func:`render_stack` returns file contents as strings from
Jinja2 templates (``StrictUndefined``: a missing variable is an error naming the
template, its line and the variable). :func:`write_rendered` writes them
atomically (temporary file + rename), so an interrupted or failed write leaves
the old file intact; ``.env`` is created with mode 0600 and its secrets are
never regenerated or overwritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ticketctl import __version__
from ticketctl.errors import ConfigError, FileWriteError
from ticketctl.resources import templates_dir
from ticketctl.secrets import (
    ENV_EXAMPLE_FILENAME,
    ENV_FILENAME,
    OPTIONAL_SECRETS,
    STACK_SECRETS,
    EnvFile,
    generate_secret,
    read_env_file,
    remember,
    validate_secret,
)
from ticketctl.settings import Settings
from ticketctl.stack import MYSQL_COLLATION, MYSQL_INIT_SCRIPT, SecretRef, Service, Stack, build_stack

COMPOSE_FILENAME = "docker-compose.yml"
TEMPLATES = {
    COMPOSE_FILENAME: "docker-compose.yml.j2",
    ENV_FILENAME: "env.j2",
    ENV_EXAMPLE_FILENAME: "env.example.j2",
    MYSQL_INIT_SCRIPT: "mysql-init.sh.j2",
}
FILE_MODES = {ENV_FILENAME: 0o600, MYSQL_INIT_SCRIPT: 0o755}


@dataclass(frozen=True)
class RenderedFile:
    """One rendered file: its path relative to the output folder and its content."""

    name: str
    content: str
    mode: int = 0o644


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    status: str  # created | updated | unchanged


@dataclass(frozen=True)
class RenderResult:
    """What render did: files and their status, and which secrets it generated (names only)."""

    output_dir: Path
    files: tuple[WrittenFile, ...]
    generated_secrets: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "output_dir": str(self.output_dir),
            "files": [{"path": str(f.path), "status": f.status} for f in self.files],
            "generated_secrets": list(self.generated_secrets),
            "warnings": list(self.warnings),
        }


# --------------------------------------------------------------------------- the Jinja2 environment


def _yaml_str(value: Any) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(str(value), ensure_ascii=False)


def _compose_str(value: Any) -> str:
    """A YAML string that Compose will not interpolate: ``$`` becomes ``$$``."""
    return _yaml_str(str(value).replace("$", "$$"))


def _duration(seconds: float) -> str:
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
    environment.filters.update(yaml_str=_yaml_str, compose_str=_compose_str, duration=_duration)
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


def _template_search_path(settings: Settings) -> list[Path]:
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


# --------------------------------------------------------------------------- contexts


def compose_context(stack: Stack, search_title: str) -> dict[str, Any]:
    """Variables of the Compose template: the model, pre-formatted for Compose."""
    services = [_compose_service(service) for service in stack.services]
    configs = {config.name: config for service in stack.services for config in service.configs}
    return {
        "version": __version__,
        "project": stack.project,
        "network": stack.network,
        "volumes": list(stack.volumes),
        "services": services,
        "configs": list(configs.values()),
        "apps_profile": "apps",
        "search_title": search_title,
        "databases": [],
    }


def _compose_service(service: Service) -> dict[str, Any]:
    environment = []
    for name, value in service.environment:
        if isinstance(value, SecretRef):
            rendered = _yaml_str(f"${{{value.name}:?{value.name} is missing: run ticketctl render to create .env}}")
        else:
            rendered = _compose_str(value)
        environment.append((name, rendered))
    return {
        "name": service.name,
        "image": service.image,
        "profiles": list(service.profiles),
        "command": list(service.command) if service.command else None,
        "user": service.user,
        "environment": environment,
        "ports": [f"{p.host_ip}:{p.host_port}:{p.container_port}/{p.protocol}" for p in service.ports],
        "volumes": list(service.volumes),
        "configs": list(service.configs),
        "ulimits": list(service.ulimits),
        "healthcheck": service.healthcheck,
        "depends_on": list(service.depends_on),
        "stop_grace_period": service.stop_grace_period,
        "role": service.role,
        "image_setting": service.image_setting,
    }


def _search_title(settings: Settings) -> str:
    return "Elasticsearch" if settings.search.engine == "elasticsearch" else "OpenSearch"


def _database_context(settings: Settings) -> list[dict[str, str]]:
    return [
        {"key": db.key, "name": db.name, "user": db.user, "password_env": db.password_env}
        for db in settings.mysql.databases
    ]


# --------------------------------------------------------------------------- rendering


def plan_secrets(existing: EnvFile | None) -> tuple[dict[str, str], tuple[str, ...]]:
    """Secret values for ``.env``: those already in the file, plus new ones for what is missing."""
    values: dict[str, str] = {}
    generated: list[str] = []
    for spec in STACK_SECRETS:
        if existing is not None and existing.values.get(spec.name):
            value = existing.values[spec.name]
            validate_secret(spec.name, value, f"{existing.path}:{existing.lines[spec.name]}")
            values[spec.name] = value
        else:
            values[spec.name] = generate_secret()
            generated.append(spec.name)
    remember(values)
    return values, tuple(generated)


def render_stack(
    settings: Settings, secret_values: Mapping[str, str], stack: Stack | None = None
) -> list[RenderedFile]:
    """Every file of the compose target, as strings. Pure: reads templates, writes nothing."""
    stack = stack or build_stack(settings)
    environment = make_environment(_template_search_path(settings))
    title = _search_title(settings)
    databases = _database_context(settings)
    compose = compose_context(stack, title)
    compose["databases"] = databases
    common = {"version": __version__, "project": settings.project}
    secrets_context = [
        {"name": spec.name, "description": spec.description, "value": secret_values.get(spec.name, "")}
        for spec in STACK_SECRETS
    ]
    optional = [{"name": spec.name, "description": spec.description} for spec in OPTIONAL_SECRETS]
    contexts: dict[str, dict[str, Any]] = {
        COMPOSE_FILENAME: compose,
        ENV_FILENAME: {**common, "secrets": secrets_context},
        ENV_EXAMPLE_FILENAME: {**common, "secrets": secrets_context, "optional_secrets": optional},
        MYSQL_INIT_SCRIPT: {**common, "databases": databases, "collation": MYSQL_COLLATION},
    }
    return [
        RenderedFile(name, render_template(environment, TEMPLATES[name], contexts[name]), FILE_MODES.get(name, 0o644))
        for name in TEMPLATES
    ]


def render(settings: Settings, *, output_dir: Path | None = None) -> RenderResult:
    """Render the compose target into ``output_dir`` (default: ``settings.output_dir``).

    Existing secrets in ``.env`` are kept; missing ones are generated and
    appended. A second render with the same settings changes no byte.
    """
    out = output_dir or settings.output_dir
    existing = read_env_file(out / ENV_FILENAME)
    secret_values, generated = plan_secrets(existing)
    files = render_stack(settings, secret_values)
    warnings = [] if existing is None else _make_private(existing.path)
    written = []
    for rendered in files:
        if rendered.name == ENV_FILENAME and existing is not None:
            written.append(_append_missing_secrets(existing, rendered, generated))
        else:
            written.append(write_file(out / rendered.name, rendered.content, rendered.mode))
    if settings.binds_publicly:
        warnings.append(
            f"ports bind to {settings.bind_address} ({settings.source_of('bind_address')}): "
            "MySQL, Redis and the search engine are reachable from other hosts"
        )
    return RenderResult(output_dir=out, files=tuple(written), generated_secrets=generated, warnings=tuple(warnings))


def _make_private(path: Path) -> list[str]:
    """An existing ``.env`` that others may read (copied, checked out) is made 0600 again; says so."""
    try:
        mode = path.stat().st_mode & 0o777
        if not mode & 0o077:
            return []
        os.chmod(path, FILE_MODES[ENV_FILENAME])
    except OSError as error:
        raise FileWriteError(
            f"{path}: cannot make it private (mode 0600): {error.strerror}", hint="fix its owner or permissions"
        ) from None
    return [f"{path} was readable by other users (mode {mode:04o}); it is 0600 now"]


def _append_missing_secrets(existing: EnvFile, rendered: RenderedFile, generated: tuple[str, ...]) -> WrittenFile:
    """Keep an existing ``.env`` as it is, adding only the secrets it lacks."""
    path = existing.path
    if not generated:
        return WrittenFile(path, "unchanged")
    current = path.read_text(encoding="utf-8")
    new_lines = [line for line in rendered.content.splitlines() if line.split("=", 1)[0] in generated]
    separator = "" if current.endswith("\n") or not current else "\n"
    content = current + separator + "\n# Added by ticketctl " + __version__ + "\n" + "\n".join(new_lines) + "\n"
    return write_file(path, content, 0o600)


def write_file(path: Path, content: str, mode: int = 0o644) -> WrittenFile:
    """Write ``content`` atomically; leave the file untouched when it already has it."""
    data = content.encode("utf-8")
    try:
        if path.read_bytes() == data:
            if (path.stat().st_mode & 0o777) != mode:
                os.chmod(path, mode)
            return WrittenFile(path, "unchanged")
        status = "updated"
    except (FileNotFoundError, NotADirectoryError):
        status = "created"
    except OSError as error:
        raise FileWriteError(f"{path}: cannot read: {error.strerror}", hint="check the folder's permissions") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise FileWriteError(
            f"{path.parent}: cannot write: {error.strerror}",
            hint="choose a writable folder with --out or output_dir, or fix its permissions",
        ) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise FileWriteError(
            f"{path}: cannot write: {error.strerror}; the previous file is unchanged",
            hint="free disk space or fix the folder's permissions, then run the command again",
        ) from None
    return WrittenFile(path, status)

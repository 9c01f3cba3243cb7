"""Render the Compose target: ``docker-compose.yml``, ``.env``, ``.env.example`` and the MySQL init script.

``.env`` is created with mode 0600 and its secrets are never regenerated or
overwritten: a second render reads them back and appends only missing ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ticketctl import __version__
from ticketctl.config.masking import remember
from ticketctl.config.secrets import (
    ENV_EXAMPLE_FILENAME,
    ENV_FILENAME,
    OPTIONAL_SECRETS,
    STACK_SECRETS,
    EnvFile,
    Secrets,
    generate_secret,
    parse_env_text,
    read_env_file,
    resolve_secrets,
    validate_secret,
)
from ticketctl.config.settings import Settings
from ticketctl.errors import FileWriteError
from ticketctl.render.files import RenderedFile, RenderResult, WrittenFile, write_file
from ticketctl.render.templates import compose_str, make_environment, render_template, template_search_path, yaml_str
from ticketctl.stack.model import MYSQL_COLLATION, MYSQL_INIT_SCRIPT, Service, Stack, build_stack
from ticketctl.stack.types import SecretRef

COMPOSE_FILENAME = "docker-compose.yml"
NewSecretsCheck = Callable[[Mapping[str, str], tuple[str, ...]], None]
"""Called with the secret values of ``.env`` and the names among them about to be generated, before ``.env``
is written; refuses by raising (``ticketctl render`` passes a check of the project's data volumes)."""
TEMPLATES = {
    COMPOSE_FILENAME: "docker-compose.yml.j2",
    ENV_FILENAME: "env.j2",
    ENV_EXAMPLE_FILENAME: "env.example.j2",
    MYSQL_INIT_SCRIPT: "mysql-init.sql.j2",
}
FILE_MODES = {ENV_FILENAME: 0o600}


# --------------------------------------------------------------------------- contexts


def compose_context(stack: Stack, search_title: str, *, start_interval: bool = True) -> dict[str, Any]:
    """Variables of the Compose template: the model, pre-formatted for Compose (``healthcheck.start_interval``
    left out unless ``start_interval``)."""
    services = [_compose_service(service, start_interval=start_interval) for service in stack.services]
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


def _compose_service(service: Service, *, start_interval: bool) -> dict[str, Any]:
    environment = []
    for name, value in service.environment:
        if isinstance(value, SecretRef):
            rendered = yaml_str(f"${{{value.name}:?{value.name} is missing: run ticketctl render to create .env}}")
        else:
            rendered = compose_str(value)
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
        "healthcheck": (
            service.healthcheck
            if start_interval or service.healthcheck is None
            else replace(service.healthcheck, start_interval=None)
        ),
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
    remember(values.values())
    return values, tuple(generated)


def render_stack(
    settings: Settings,
    secret_values: Mapping[str, str],
    stack: Stack | None = None,
    *,
    start_interval: bool = False,
) -> list[RenderedFile]:
    """Every file of the compose target, as strings; ``healthcheck.start_interval`` only when asked, since
    ``docker compose up`` refuses it on Engines before 25 (the caller knows the Engine). Pure: reads
    templates, writes nothing."""
    stack = stack or build_stack(settings)
    environment = make_environment(template_search_path(settings))
    title = _search_title(settings)
    databases = _database_context(settings)
    compose = compose_context(stack, title, start_interval=start_interval)
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


@dataclass(frozen=True)
class RenderPlan:
    """The files render would write, computed without writing anything, so that what they change is checked
    first (``up`` checks ports and secrets against them, then writes).

    ``files`` hold each file's full new content; that of ``.env`` is the existing file plus the secrets it
    lacks. ``generated_secrets`` names the secrets that are new.
    """

    settings: Settings
    output_dir: Path
    files: tuple[RenderedFile, ...]
    existing_env: EnvFile | None
    secret_values: Mapping[str, str]
    generated_secrets: tuple[str, ...]
    warnings: tuple[str, ...] = ()  # about the settings, known before anything is written

    @property
    def env_path(self) -> Path:
        return self.output_dir / ENV_FILENAME

    def contents(self) -> dict[Path, str]:
        """Path → the content it will have, for reading the rendered stack before it is written."""
        return {self.output_dir / rendered.name: rendered.content for rendered in self.files}

    def secrets(self, environ: Mapping[str, str]) -> Secrets:
        """The secrets in effect once written: the new ``.env``, the process environment winning over it."""
        return resolve_secrets(parse_env_text(self.contents()[self.env_path], self.env_path), environ)


def plan_render(settings: Settings, *, output_dir: Path | None = None, start_interval: bool = False) -> RenderPlan:
    """What :func:`render` would write (``start_interval``: see :func:`render_stack`). Reads the templates and an
    existing ``.env``; writes nothing."""
    out = output_dir or settings.output_dir
    existing = read_env_file(out / ENV_FILENAME)
    secret_values, generated = plan_secrets(existing)
    files = render_stack(settings, secret_values, start_interval=start_interval)
    if existing is not None:
        files = [
            replace(rendered, content=_with_missing_secrets(existing, rendered, generated))
            if rendered.name == ENV_FILENAME
            else rendered
            for rendered in files
        ]
    warnings = []
    if settings.binds_publicly:
        warnings.append(
            f"ports bind to {settings.bind_address} ({settings.source_of('bind_address')}): "
            "MySQL, Redis and the search engine are reachable from other hosts"
        )
    return RenderPlan(settings, out, tuple(files), existing, secret_values, generated, tuple(warnings))


def write_render(plan: RenderPlan) -> RenderResult:
    """Write a plan's files atomically; an unchanged file is not touched, an existing ``.env`` only appended to."""
    existing = plan.existing_env
    warnings = [] if existing is None else _make_private(existing.path)
    warnings += plan.warnings
    written = []
    for rendered in plan.files:
        path = plan.output_dir / rendered.name
        if rendered.name == ENV_FILENAME and existing is not None and not plan.generated_secrets:
            written.append(WrittenFile(path, "unchanged"))
        else:
            written.append(write_file(path, rendered.content, rendered.mode))
    return RenderResult(
        output_dir=plan.output_dir,
        files=tuple(written),
        generated_secrets=plan.generated_secrets,
        warnings=tuple(warnings),
    )


def render(
    settings: Settings,
    *,
    output_dir: Path | None = None,
    start_interval: bool = False,
    check_new_secrets: NewSecretsCheck | None = None,
) -> RenderResult:
    """Render the compose target into ``output_dir`` (default: ``settings.output_dir``).

    Existing secrets in ``.env`` are kept; missing ones are generated and
    appended. A second render with the same settings changes no byte.
    ``check_new_secrets`` may refuse generated secrets before anything is written.
    """
    plan = plan_render(settings, output_dir=output_dir, start_interval=start_interval)
    if check_new_secrets is not None and plan.generated_secrets:
        check_new_secrets(plan.secret_values, plan.generated_secrets)
    return write_render(plan)


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


def _with_missing_secrets(existing: EnvFile, rendered: RenderedFile, generated: tuple[str, ...]) -> str:
    """An existing ``.env`` as it is, plus the lines of the secrets it lacks."""
    current = existing.path.read_text(encoding="utf-8")
    if not generated:
        return current
    new_lines = [line for line in rendered.content.splitlines() if line.split("=", 1)[0] in generated]
    separator = "" if current.endswith("\n") or not current else "\n"
    return current + separator + "\n# Added by ticketctl " + __version__ + "\n" + "\n".join(new_lines) + "\n"


@dataclass(frozen=True)
class RenderPreview:
    """What :func:`render` would do, without writing: each file's status and the content it would leave."""

    output_dir: Path
    files: tuple[WrittenFile, ...]  # created | updated | unchanged, as render would report them
    contents: Mapping[Path, str]
    generated_secrets: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return any(file.status != "unchanged" for file in self.files)

    def as_dict(self) -> dict[str, Any]:
        return {
            "output_dir": str(self.output_dir),
            "files": [{"path": str(f.path), "status": f.status} for f in self.files],
            "generated_secrets": list(self.generated_secrets),
        }


def preview(plan: RenderPlan) -> RenderPreview:
    """A render plan's files beside those on disk (``ticketctl plan``): which it would create or update."""
    contents = plan.contents()
    files = tuple(WrittenFile(path, _status_against_disk(path, content)) for path, content in contents.items())
    return RenderPreview(plan.output_dir, files, contents, plan.generated_secrets)


def _status_against_disk(path: Path, content: str) -> str:
    try:
        return "unchanged" if path.read_bytes() == content.encode("utf-8") else "updated"
    except (FileNotFoundError, NotADirectoryError):
        return "created"
    except OSError as error:
        raise FileWriteError(f"{path}: cannot read: {error.strerror}", hint="check the folder's permissions") from None

"""``ticketctl env``: what a program needs to reach the stack's servers from outside Docker.

For the whole stack: each database with its own user (host, port, name, user,
password and a ``mysql://`` URL), Redis (a ``redis://`` URL with the logical
database) and the search engine. For an application service: exactly the
variables its container gets from the stack model
(:func:`~ticketctl.stack.model.application_environment`), with the servers'
addresses as seen from this machine (``mysql.host``/``mysql.port``,
``redis.host``/``redis.port``, ``search.url``) instead of the service names of
the stack's network. So a service can be run on the host, in a debugger, with
the same variables it has in its container.

Every value is held as it is; :meth:`Variable.shown` masks secrets, and only
``show_secrets`` prints them.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import DatabaseSettings, Settings
from ticketctl.errors import ConfigError
from ticketctl.stack.model import APPLICATIONS, Endpoints, application_environment, application_port, build_stack
from ticketctl.stack.types import SecretRef

MASK = "***"
FORMATS = ("dotenv", "shell", "json")
# Values that every dotenv reader (Compose, docker --env-file, python-dotenv, a shell's `set -a; .`) takes unquoted.
PLAIN_VALUE_RE = re.compile(r"^[A-Za-z0-9_./:@%+=,^-]*$")


@dataclass(frozen=True)
class Variable:
    """One variable: its value, and the same with every secret in it replaced by ``***``."""

    name: str
    value: str
    masked: str

    @property
    def secret(self) -> bool:
        return self.value != self.masked

    def shown(self, show_secrets: bool) -> str:
        return self.value if show_secrets else self.masked


@dataclass(frozen=True)
class ConnectionEnvironment:
    """The variables for one target: the whole stack, a server, or an application service."""

    project: str
    target: str  # "stack", "mysql", "redis", "search" or an application service
    variables: tuple[Variable, ...]

    def values(self, show_secrets: bool = False) -> dict[str, str]:
        return {variable.name: variable.shown(show_secrets) for variable in self.variables}

    @property
    def has_secrets(self) -> bool:
        return any(variable.secret for variable in self.variables)

    def as_dict(self, show_secrets: bool = False) -> dict[str, Any]:
        return {
            "project": self.project,
            "target": self.target,
            "secrets_shown": show_secrets,
            "variables": self.values(show_secrets),
        }


def connection_environment(settings: Settings, secrets: Secrets, service: str | None = None) -> ConnectionEnvironment:
    """The variables for ``service`` (None: the whole stack); see the module docstring."""
    builder = _Builder(settings, secrets)
    servers = {"mysql": builder.mysql, "redis": builder.redis, "search": builder.search}
    if service is None:
        target = "stack"
        for add in servers.values():
            add()
    elif service in servers or service == settings.search.engine:
        target = "search" if service == settings.search.engine else service
        servers[target]()
    else:
        target = service
        builder.application(service)
    return ConnectionEnvironment(settings.project, target, tuple(builder.variables))


class _Builder:
    def __init__(self, settings: Settings, secrets: Secrets):
        self.settings = settings
        self.secrets = secrets
        self.variables: list[Variable] = []

    def plain(self, name: str, value: object) -> None:
        self.variables.append(Variable(name, str(value), str(value)))

    def secret(self, name: str, secret_name: str) -> str:
        value = self.secrets.require(secret_name, env_file=self.settings.output_dir / ".env")
        self.variables.append(Variable(name, value, MASK))
        return value

    def url(self, name: str, make: Callable[[str], str], password: str) -> None:
        self.variables.append(Variable(name, make(quote(password, safe="")), make(MASK)))

    def mysql(self) -> None:
        for database in self.settings.mysql.databases:
            self.database(database)

    def database(self, database: DatabaseSettings) -> None:
        mysql = self.settings.mysql
        prefix = database.key.upper()
        self.plain(f"{prefix}_DB_HOST", mysql.host)
        self.plain(f"{prefix}_DB_PORT", mysql.port)
        self.plain(f"{prefix}_DB_NAME", database.name)
        self.plain(f"{prefix}_DB_USER", database.user)
        password = self.secret(f"{prefix}_DB_PASSWORD", database.password_env)
        self.url(
            f"{prefix}_DATABASE_URL",
            lambda secret: f"mysql://{database.user}:{secret}@{mysql.host}:{mysql.port}/{database.name}",
            password,
        )

    def redis(self) -> None:
        redis = self.settings.redis
        self.plain("REDIS_HOST", redis.host)
        self.plain("REDIS_PORT", redis.port)
        self.plain("REDIS_DB", redis.db)
        password = self.secret("REDIS_PASSWORD", "REDIS_PASSWORD")
        scheme = "rediss" if redis.tls else "redis"
        self.url("REDIS_URL", lambda secret: f"{scheme}://:{secret}@{redis.host}:{redis.port}/{redis.db}", password)

    def search(self) -> None:
        search = self.settings.search
        self.plain("SEARCH_URL", search.url)
        self.plain("SEARCH_ENGINE", search.engine)
        self.plain("SEARCH_INDEX", search.index)
        if search.username is not None:
            self.plain("SEARCH_USERNAME", search.username)
            self.secret("SEARCH_PASSWORD", "SEARCH_PASSWORD")

    def application(self, name: str) -> None:
        app = next((app for app in APPLICATIONS if app.name == name), None)
        if app is None:
            known = ["mysql", "redis", "search", *(service.name for service in build_stack(self.settings).services)]
            raise ConfigError(
                f"no service named {name!r} in the stack",
                hint=f"choose from: {', '.join(sorted(set(known)))}",
            )
        settings = self.settings
        from_here = Endpoints(
            settings.mysql.host, settings.mysql.port, settings.redis.host, settings.redis.port, settings.search.url
        )
        for key, value in application_environment(settings, app, application_port(settings, app), from_here):
            if isinstance(value, SecretRef):
                self.secret(key, value.name)
            else:
                self.plain(key, value)


# --------------------------------------------------------------------------- output formats


def format_environment(environment: ConnectionEnvironment, fmt: str, *, show_secrets: bool = False) -> str:
    """``dotenv`` (KEY=value), ``shell`` (export KEY='value') or ``json``."""
    values = environment.values(show_secrets)
    if fmt == "json":
        return json.dumps(environment.as_dict(show_secrets), indent=2) + "\n"
    if fmt == "shell":
        return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items())
    if fmt == "dotenv":
        return "".join(f"{name}={_dotenv_value(value)}\n" for name, value in values.items())
    raise ConfigError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")


def _dotenv_value(value: str) -> str:
    """Bare when every reader takes it as it is; else double-quoted with \\, ", $ and ` escaped."""
    if PLAIN_VALUE_RE.match(value) and not value.startswith("~"):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("`", "\\`")
    return f'"{escaped}"'

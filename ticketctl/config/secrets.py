"""Secrets: generated once into ``.env``, kept forever, never printed.

The stack's passwords live only in the rendered ``.env`` (mode 0600) and, for
remote endpoints, in the process environment. They are generated with
:mod:`secrets` (192 bits each) the first time ``.env`` is rendered and are
never regenerated while the file exists: a second render reads them back.

:class:`Secrets` masks itself in ``repr`` and ``str`` so that a stray log line
or traceback cannot show a value, and hands every value it holds to
:mod:`ticketctl.config.masking`, which keeps them out of every output.
"""

from __future__ import annotations

import re
import secrets as _random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from ticketctl.config.masking import remember
from ticketctl.config.settings import DATABASE_KEYS, database_password_secret
from ticketctl.errors import ConfigError

ENV_FILENAME = ".env"
ENV_EXAMPLE_FILENAME = ".env.example"

# Passwords are interpolated into the MySQL init script and shell commands of the
# containers, so quotes, backslashes, '$' and spaces are not allowed in them.
SECRET_VALUE_RE = re.compile(r"^[A-Za-z0-9._~+=@%^-]{12,128}$")
ENV_LINE_RE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


@dataclass(frozen=True)
class SecretSpec:
    """A secret the stack needs: its variable name and what it protects."""

    name: str
    description: str
    generated: bool = True


STACK_SECRETS: tuple[SecretSpec, ...] = (
    SecretSpec("MYSQL_ROOT_PASSWORD", "MySQL root password (administration and migrations of new databases)"),
    *(
        SecretSpec(database_password_secret(key), f"password of the {key} database's application user")
        for key in DATABASE_KEYS
    ),
    SecretSpec("REDIS_PASSWORD", "Redis password (requirepass)"),
)
# Read from the environment or .env when set, never generated: a remote cluster's password.
OPTIONAL_SECRETS: tuple[SecretSpec, ...] = (
    SecretSpec("SEARCH_PASSWORD", "password of search.username on a secured remote search cluster", generated=False),
)


class Secrets(Mapping[str, str]):
    """Secret name → value; masked in every textual form."""

    def __init__(self, values: Mapping[str, str]):
        self._values = dict(values)
        remember(self._values.values())

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Secrets({', '.join(f'{name}=***' for name in self._values)})"

    __str__ = __repr__

    def require(self, name: str, *, env_file: Path | None = None) -> str:
        """The value of ``name``, or a ConfigError saying how to create it."""
        value = self._values.get(name)
        if value:
            return value
        where = f"{env_file}" if env_file else "the environment"
        raise ConfigError(
            f"{name}: secret not found in {where}",
            hint="run 'ticketctl render' to generate .env, or export the variable",
        )


def generate_secret() -> str:
    """A new random password: 32 URL-safe characters, 192 bits of entropy."""
    return _random.token_urlsafe(24)


@dataclass(frozen=True)
class EnvFile:
    """The parsed content of an existing ``.env``: values and the line of each."""

    path: Path
    values: dict[str, str]
    lines: dict[str, int]


def read_env_file(path: Path) -> EnvFile | None:
    """Parse a ``.env`` file (``KEY=VALUE`` lines, ``#`` comments); None if absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}", hint="check the file's permissions") from error
    return parse_env_text(text, path)


def parse_env_text(text: str, path: Path) -> EnvFile:
    """Parse the text of a ``.env`` file (read from ``path``, or about to be written there)."""
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = ENV_LINE_RE.match(line)
        if match is None:
            raise ConfigError(
                f"{path}:{number}: not a KEY=VALUE line",
                hint="fix or remove the line; .env holds one NAME=value per line",
            )
        name, value = match.group(1), _unquote(match.group(2))
        values[name] = value
        lines[name] = number
    return EnvFile(path=path, values=values, lines=lines)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def validate_secret(name: str, value: str, where: str) -> None:
    """Refuse a secret that is too short or holds characters unsafe in SQL or shell."""
    if not SECRET_VALUE_RE.match(value):
        raise ConfigError(
            f"{where}: {name}: must be 12-128 characters of letters, digits and ._~+=@%^-",
            hint=f"delete the {name} line to have ticketctl generate one, or choose another value",
        )


def resolve_secrets(env_file: EnvFile | None, environ: Mapping[str, str]) -> Secrets:
    """Secrets in effect: the process environment wins over ``.env``, as in Docker Compose."""
    values: dict[str, str] = {}
    for spec in (*STACK_SECRETS, *OPTIONAL_SECRETS):
        if environ.get(spec.name):
            value, where = environ[spec.name], "environment"
        elif env_file is not None and env_file.values.get(spec.name):
            value, where = env_file.values[spec.name], f"{env_file.path}:{env_file.lines[spec.name]}"
        else:
            continue
        if spec.generated:
            validate_secret(spec.name, value, where)
        values[spec.name] = value
    return Secrets(values)


def load_secrets(output_dir: Path, environ: Mapping[str, str]) -> Secrets:
    """Secrets for commands that talk to the stack: ``<output_dir>/.env`` plus the environment."""
    return resolve_secrets(read_env_file(output_dir / ENV_FILENAME), environ)

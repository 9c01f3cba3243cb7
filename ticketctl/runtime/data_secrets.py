"""Secrets that live in a data volume: does the data still know the secrets in effect?

MySQL's image creates its accounts from ``MYSQL_ROOT_PASSWORD`` and the
application passwords once, when it initialises an empty data volume, and never
reads them again. Once ``.env`` is lost (or edited), a new password cannot reach
the data: a recreated container fails its health check with ``Access denied``
after the whole health budget. So before ``up`` changes anything (and before
``render`` writes new secrets, and in ``doctor``) this module answers whether the
secrets in effect are those the data knows, from the best evidence there is:

1. a running container of the service: when it runs with other secrets than
   those in effect, a real login with the secrets in effect decides (so a
   password changed inside MySQL and then in ``.env`` is accepted);
2. else a stopped container of the service that has run: the secrets it was
   created with;
3. else the volume's label :data:`SECRETS_LABEL`, set when ``up`` created the
   volume: a short keyed digest of each secret (never the value), overridden by
   the digests ``secrets rotate`` recorded in :data:`ROTATED_FILENAME` beside
   ``.env`` (a label cannot change, and the data learnt the new value). Volumes
   created before the label existed have none; then nothing is known until the
   service runs, and ``up`` tries the login while it waits for its health
   (:func:`login_mismatch`), so it fails in seconds and not after the health budget.

A secret that ``render`` is about to generate can never match data that exists.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ticketctl.config.settings import Settings
from ticketctl.errors import ConfigError
from ticketctl.runtime.docker import Container, DockerRuntime, Volume
from ticketctl.runtime.translate import volume_name
from ticketctl.stack.model import Stack, build_stack

SECRETS_LABEL = "io.ticketctl.data-secrets"
ROTATED_FILENAME = ".data-secrets.json"

# ``login(host, port, secret, password)``: True when MySQL accepts the account whose password is ``secret``,
# False when it refuses it, None when it cannot tell (ticketctl.clients.mysql.login_probe).
LoginProbe = Callable[[str, int, str, str], bool | None]


@dataclass(frozen=True)
class Binding:
    """A data volume (its name in the file), the service that initialises it, and the secrets written into it."""

    volume: str
    service: str
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Mismatch:
    """A data volume that does not know (some of) the secrets in effect, and how that was found out."""

    volume: str  # the volume's name on the Engine
    secrets: tuple[str, ...]
    evidence: str  # "new", "login", "container" or "label"

    def describe(self) -> str:
        names = ", ".join(self.secrets[:2]) + (f" and {len(self.secrets) - 2} more" if len(self.secrets) > 2 else "")
        how = {
            "new": f"{names} would be generated anew",
            "login": f"MySQL refuses the login with {names}",
            "container": f"its container was created with another {names}",
            "label": f"it was created with another {names}",
        }[self.evidence]
        return f"{self.volume} ({how})"


def bindings(model: Stack) -> list[Binding]:
    """The data volumes whose content holds secrets, from the stack model."""
    return [
        Binding(mount.volume, service.name, service.data_secrets)
        for service in model.services
        if service.data_secrets
        for mount in service.volumes
    ]


def secrets_label(project: str, volume: str, names: Sequence[str], secrets: Mapping[str, str]) -> str:
    """``NAME:digest,…``: 16 hex digits of SHA-256 over the project, volume, name and value of each secret."""
    return ",".join(f"{name}:{_digest(project, volume, name, secrets.get(name, ''))}" for name in names)


def volume_labels_for_secrets(model: Stack, project: str, volume: str, secrets: Mapping[str, str]) -> dict[str, str]:
    """The label to put on ``volume`` (its name in the file) when it is created, or none for data without secrets."""
    names = [name for binding in bindings(model) if binding.volume == volume for name in binding.secrets]
    return {SECRETS_LABEL: secrets_label(project, volume, names, secrets)} if names else {}


@dataclass(frozen=True)
class Assessment:
    """The project's data volumes that hold secrets: which do not know those in effect, which agree, and which
    cannot tell (created before ticketctl recorded secrets, and their service is not running)."""

    mismatches: tuple[Mismatch, ...] = ()
    agreeing: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()


def assess(
    settings: Settings,
    runtime: DockerRuntime,
    model: Stack,
    secrets: Mapping[str, str],
    *,
    login: LoginProbe,
    generated: Sequence[str] = (),
    containers: Sequence[Container] | None = None,
) -> Assessment:
    """Judge each existing data volume of the project against the secrets in effect (see the module doc).

    ``generated`` names secrets about to be generated (and not set in the environment).
    """
    project = settings.project
    volumes = {volume.name: volume for volume in runtime.volumes(project)}
    if not volumes:
        return Assessment()
    existing = list(containers) if containers is not None else runtime.containers(project)
    mismatches: list[Mismatch] = []
    agreeing: list[str] = []
    unknown: list[str] = []
    for binding in bindings(model):
        volume = volumes.get(volume_name(project, binding.volume))
        if volume is None:
            continue
        new = tuple(name for name in binding.secrets if name in generated)
        container = next((c for c in existing if c.service == binding.service), None)
        verdict = (
            Mismatch(volume.name, new, "new") if new else _judge(settings, binding, volume, container, secrets, login)
        )
        if isinstance(verdict, Mismatch):
            mismatches.append(verdict)
        else:
            (agreeing if verdict else unknown).append(volume.name)
    return Assessment(tuple(mismatches), tuple(agreeing), tuple(unknown))


def check_new_secrets(
    settings: Settings,
    secrets: Mapping[str, str],
    generated: Sequence[str],
    connect: Callable[[], DockerRuntime | None],
    login: LoginProbe,
) -> None:
    """Before ``render`` writes ``generated`` secrets: refuse when the project has data created with others.

    ``connect`` is called only when a generated secret is one data holds (a first render, or a lost
    ``.env``); it returns None when no Engine answers, and then there is no data here to protect.
    """
    model = build_stack(settings)
    held = {name for binding in bindings(model) for name in binding.secrets}
    if not held & set(generated):
        return
    runtime = connect()
    if runtime is not None:
        mismatches = assess(settings, runtime, model, secrets, login=login, generated=generated).mismatches
        if mismatches:
            raise SecretsMismatchError(settings, mismatches)


def login_mismatch(
    settings: Settings, model: Stack, container: Container, secrets: Mapping[str, str], login: LoginProbe
) -> Mismatch | None:
    """For a volume nothing told about (see :class:`Assessment`), once its service runs: a mismatch when MySQL
    refuses a login with the secrets in effect; None while it cannot tell or when it accepts them."""
    for binding in bindings(model):
        if binding.service != container.service:
            continue
        refused = _refused_logins(container, binding.secrets, secrets, login)
        if refused:
            return Mismatch(volume_name(settings.project, binding.volume), refused, "login")
    return None


class SecretsMismatchError(ConfigError):
    """The secrets in effect are not those the project's data was created with; nothing was changed."""

    def __init__(self, settings: Settings, mismatches: Sequence[Mismatch]):
        env_file = settings.output_dir / ".env"
        lost = not env_file.is_file() or any(m.evidence == "new" for m in mismatches)
        cause = f"{env_file} is missing" if not env_file.is_file() else f"the secrets of {env_file}"
        what = "new secrets" if lost else "these secrets"
        super().__init__(
            f"{cause}, but project {settings.project!r} has data created with other secrets: "
            f"{'; '.join(m.describe() for m in mismatches)}; {what} would lock the stack out of its data",
            hint=f"bring the old .env back into {settings.output_dir} (or export its passwords), or start over "
            f"without the data: `ticketctl down --volumes` deletes {', '.join(m.volume for m in mismatches)}",
        )
        self.mismatches = tuple(mismatches)


# --------------------------------------------------------------------------- evidence


def _judge(
    settings: Settings,
    binding: Binding,
    volume: Volume,
    container: Container | None,
    secrets: Mapping[str, str],
    login: LoginProbe,
) -> Mismatch | bool:
    """A mismatch, True when the volume agrees with ``secrets``, False when nothing tells."""
    if container is not None and container.state != "created":  # one that never started proves nothing
        differing = tuple(n for n in binding.secrets if container.environment.get(n, "") != secrets.get(n, ""))
        if not differing:
            return True
        if container.state == "running":
            refused = _refused_logins(container, binding.secrets, secrets, login)
            if refused is not None:
                return Mismatch(volume.name, refused, "login") if refused else True
        return Mismatch(volume.name, differing, "container")
    recorded = {**_recorded(volume), **_rotated(settings).get(binding.volume, {})}
    if not recorded:
        return False  # created before ticketctl recorded secrets: known once the service runs
    differing = tuple(
        name
        for name in binding.secrets
        if name in recorded and recorded[name] != _digest(settings.project, binding.volume, name, secrets.get(name, ""))
    )
    return Mismatch(volume.name, differing, "label") if differing else True


def _recorded(volume: Volume) -> dict[str, str]:
    text = volume.labels.get(SECRETS_LABEL, "")
    return dict(item.split(":", 1) for item in text.split(",") if ":" in item)


def record_rotation(settings: Settings, secrets: Mapping[str, str]) -> None:
    """After ``secrets rotate`` gave the data new values: their keyed digests, per volume, beside ``.env`` (0600)."""
    rotated = _rotated(settings)
    for binding in bindings(build_stack(settings)):
        rotated[binding.volume] = {
            name: _digest(settings.project, binding.volume, name, secrets.get(name, "")) for name in binding.secrets
        }
    path = settings.output_dir / ROTATED_FILENAME
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(rotated, handle)
    os.replace(temporary, path)


def _rotated(settings: Settings) -> dict[str, dict[str, str]]:
    try:
        found = json.loads((settings.output_dir / ROTATED_FILENAME).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _digest(project: str, volume: str, name: str, value: str) -> str:
    return hashlib.sha256(f"ticketctl data secret\0{project}\0{volume}\0{name}\0{value}".encode()).hexdigest()[:16]


def _refused_logins(
    container: Container, names: Sequence[str], secrets: Mapping[str, str], login: LoginProbe
) -> tuple[str, ...] | None:
    """The secrets MySQL refuses a login with, on the container's published port; None when it cannot tell."""
    port = next((p for p in container.ports if p.container_port == 3306), None)
    if port is None:
        return None
    host = "127.0.0.1" if port.host_ip in ("0.0.0.0", "::", "") else port.host_ip
    refused = []
    for name in names:
        if not secrets.get(name):  # not in .env nor the environment: no login can work
            refused.append(name)
            continue
        accepted = login(host, port.host_port, name, secrets[name])
        if accepted is None:
            return None
        if not accepted:
            refused.append(name)
    return tuple(refused)

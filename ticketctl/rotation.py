"""``ticketctl secrets rotate``: new passwords, applied live, then written, then the containers recreated.

The order (journal, apply, .env, recreate, finalize; docs/snapshots.md) is what
keeps everyone logged in: the journal (0600) holds both values of each secret
before anything changes, so a run killed at any point is finished by the next
run with the same values, never with a third set, and every step can be
repeated. Neither MySQL flavor keeps an old password beside a new one when the
new one arrives as a hash (:func:`~ticketctl.clients.mysql.password_change`),
so between "apply" and ".env" the journal, not ``.env``, holds the MySQL
passwords that work; Redis keeps both until "finalize". Passwords reach the
servers as hashes only. :func:`apply_mysql_passwords` is the same core the
Kubernetes setup Job can call before the new Secret is used.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ticketctl.clients.mysql import (
    ROOT_PASSWORD_SECRET,
    Credentials,
    ServerError,
    Session,
    connect,
    set_account_password,
    stack_accounts,
)
from ticketctl.clients.redis import PASSWORD_SECRET as REDIS_SECRET
from ticketctl.clients.redis import add_password, connect_with_any, remove_password
from ticketctl.config.masking import remember
from ticketctl.config.secrets import (
    ENV_FILENAME,
    ENV_LINE_RE,
    STACK_SECRETS,
    generate_secret,
    read_env_file,
)
from ticketctl.config.settings import Settings
from ticketctl.errors import ConfigError, DatabaseError, RedisError
from ticketctl.events import EventSink, Notice, StepEvent, serialised
from ticketctl.render.files import write_file
from ticketctl.runtime.data_secrets import record_rotation

if TYPE_CHECKING:
    from ticketctl.clients.redis import Client

JOURNAL_FILENAME = ".rotation-journal.json"
STEPS = ("apply", "env", "recreate", "finalize")
Recreate = Callable[[], Sequence[str]]
"""Recreates the containers that read changed secrets (``up``); returns the services it recreated."""


@dataclass(frozen=True)
class RotationReport:
    rotated: tuple[str, ...]
    dry_run: bool
    resumed: bool
    recreated: tuple[str, ...] = ()
    plan: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "rotated": list(self.rotated),
            "dry_run": self.dry_run,
            "resumed": self.resumed,
            "recreated": list(self.recreated),
            "plan": list(self.plan),
        }


def rotatable() -> tuple[str, ...]:
    return tuple(spec.name for spec in STACK_SECRETS if spec.generated)


def journal_path(settings: Settings) -> Path:
    return settings.output_dir / JOURNAL_FILENAME


def pending_rotation(settings: Settings) -> dict[str, Any] | None:
    """The journal of an unfinished rotation, or None."""
    try:
        data = json.loads(journal_path(settings).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    if isinstance(data, dict):
        remember([value for pair in data.get("secrets", {}).values() for value in pair.values()])
        return data
    return None


def rotate(
    settings: Settings,
    names: Sequence[str] | None,
    *,
    recreate: Recreate,
    dry_run: bool = False,
    on_event: EventSink | None = None,
    step_hook: Callable[[str], None] | None = None,
) -> RotationReport:
    """Rotate ``names`` (default: every generated secret); see the module doc. ``step_hook`` runs before each step."""
    emit = serialised(on_event)
    env_file = read_env_file(settings.output_dir / ENV_FILENAME)
    if env_file is None:
        raise ConfigError(
            f"{settings.output_dir / ENV_FILENAME}: not found: there are no secrets to rotate",
            hint="run `ticketctl render` (or `up`) first",
        )
    journal = pending_rotation(settings)
    resumed = journal is not None
    if journal is None:
        chosen = _chosen(names)
        current = {name: env_file.values.get(name, "") for name in chosen}
        missing = [name for name, value in current.items() if not value]
        if missing:
            raise ConfigError(
                f"{env_file.path}: {', '.join(missing)} not set", hint="run `ticketctl render` to complete .env"
            )
        plan = tuple(f"{name}: new random value, applied live, then written to .env" for name in chosen)
        if dry_run:
            return RotationReport(tuple(chosen), True, False, plan=plan + _recreate_plan(chosen))
        journal = {
            "step": "apply",
            "secrets": {name: {"old": current[name], "new": generate_secret()} for name in chosen},
        }
        _write_journal(settings, journal)
    else:
        emit(Notice(f"finishing the interrupted rotation of {', '.join(journal['secrets'])}"))
        if names and set(names) != set(journal["secrets"]):
            emit(Notice("the interrupted rotation is finished first; run again for the other secrets", "warning"))
        if dry_run:
            return RotationReport(tuple(journal["secrets"]), True, True, plan=(f"resume at step {journal['step']}",))
    pairs: dict[str, dict[str, str]] = journal["secrets"]
    remember([value for pair in pairs.values() for value in pair.values()])
    recreated: Sequence[str] = ()
    for step in STEPS[STEPS.index(journal["step"]) :]:
        if step_hook is not None:
            step_hook(step)
        emit(StepEvent(step, "started"))
        if step == "apply":
            apply_live(settings, pairs)
        elif step == "env":
            write_env_values(settings.output_dir / ENV_FILENAME, {name: pair["new"] for name, pair in pairs.items()})
            env_file = read_env_file(settings.output_dir / ENV_FILENAME)
            record_rotation(settings, env_file.values if env_file else {})
        elif step == "recreate":
            recreated = recreate()
        else:
            finalize(settings, pairs)
        emit(StepEvent(step, "done"))
        following = STEPS[STEPS.index(step) + 1] if step != STEPS[-1] else None
        if following:
            journal = {**journal, "step": following}
            _write_journal(settings, journal)
    journal_path(settings).unlink(missing_ok=True)
    return RotationReport(tuple(pairs), False, resumed, tuple(recreated))


def _chosen(names: Sequence[str] | None) -> list[str]:
    known = rotatable()
    if not names:
        return list(known)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigError(
            f"cannot rotate {', '.join(unknown)}", hint=f"secrets that can be rotated: {', '.join(known)}"
        )
    return list(dict.fromkeys(names))


def _recreate_plan(names: Sequence[str]) -> tuple[str, ...]:
    return ("then `up` recreates the containers whose environment holds them (mysql, redis, the apps)",)


def _write_journal(settings: Settings, journal: Mapping[str, Any]) -> None:
    path = journal_path(settings)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(journal, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def write_env_values(path: Path, values: Mapping[str, str]) -> None:
    """Set these secrets in ``.env`` (atomically, mode 0600), keeping every other line as it is.

    Used by ``secrets rotate``: the comments, the order and any line a user added stay.
    """
    existing = read_env_file(path)
    text = path.read_text(encoding="utf-8") if existing is not None else ""
    lines = text.splitlines()
    seen: set[str] = set()
    for index, line in enumerate(lines):
        match = ENV_LINE_RE.match(line)
        if match and not line.lstrip().startswith("#") and match.group(1) in values:
            lines[index] = f"{match.group(1)}={values[match.group(1)]}"
            seen.add(match.group(1))
    lines += [f"{name}={value}" for name, value in values.items() if name not in seen]
    remember(values)
    write_file(path, "\n".join(lines) + "\n", 0o600)


# --------------------------------------------------------------------------- live changes


def apply_live(settings: Settings, pairs: Mapping[str, Mapping[str, str]]) -> None:
    """Give the servers the new values (step 2); Redis keeps the old password beside the new one until step 5."""
    mysql = {name: pair for name, pair in pairs.items() if name != REDIS_SECRET}
    if mysql:
        with _root_session(settings, pairs) as session:
            apply_mysql_passwords(session, settings, {name: pair["new"] for name, pair in mysql.items()})
    if REDIS_SECRET in pairs:
        add_password(_redis(settings, pairs[REDIS_SECRET]), settings, pairs[REDIS_SECRET]["new"])


def apply_mysql_passwords(session: Session, settings: Settings, passwords: Mapping[str, str]) -> list[str]:
    """Give each account of these secrets' users its new password, sent as a hash; returns the accounts changed.

    Reusable wherever a root session exists (the Kubernetes setup Job runs it before the new Secret is used).
    """
    users = {user_of_secret(settings, name): name for name in passwords}
    changed = []
    for user, host in stack_accounts(session, list(users)):
        set_account_password(session, user, passwords[users[user]], host)
        changed.append(f"{user}@{host}")
    return changed


def finalize(settings: Settings, pairs: Mapping[str, Mapping[str, str]]) -> None:
    """Drop the old Redis password kept beside the new one (step 5); MySQL kept none."""
    if REDIS_SECRET in pairs:
        pair = pairs[REDIS_SECRET]
        remove_password(_redis(settings, pair), settings, pair["old"])


def user_of_secret(settings: Settings, name: str) -> str:
    """The MySQL user whose password the secret ``name`` is."""
    if name == ROOT_PASSWORD_SECRET:
        return settings.mysql.root_user
    for database in settings.mysql.databases:
        if database.password_env == name:
            return database.user
    raise ConfigError(f"{name}: not a MySQL password", hint=f"rotatable: {', '.join(rotatable())}")


def _root_session(settings: Settings, pairs: Mapping[str, Mapping[str, str]]) -> Session:
    """Root, with the new password if the server already has it, else the old one (a rerun after step 2)."""
    env_file = read_env_file(settings.output_dir / ENV_FILENAME)
    current = env_file.values.get(ROOT_PASSWORD_SECRET, "") if env_file else ""
    pair = pairs.get(ROOT_PASSWORD_SECRET)
    candidates = [pair["new"], pair["old"]] if pair else [current]
    last: ServerError | None = None
    for password in dict.fromkeys(value for value in candidates if value):
        try:
            return connect(settings.mysql, Credentials(settings.mysql.root_user, password, ROOT_PASSWORD_SECRET))
        except ServerError as error:
            if error.errno != 1045:
                raise
            last = error
    raise DatabaseError(
        f"MySQL refused {settings.mysql.root_user} with every known value of {ROOT_PASSWORD_SECRET}"
        + (f" ({last.detail})" if last else ""),
        hint="bring back the .env the server was set up with, then run `ticketctl secrets rotate` again",
    )


def _redis(settings: Settings, pair: Mapping[str, str]) -> Client:
    """Redis, logged in with the new password if it already has it, else the old one (a rerun after step 2)."""
    client = connect_with_any(settings, [pair["new"], pair["old"]])
    if client is None:
        raise RedisError(
            f"Redis at {settings.redis.host}:{settings.redis.port} refused both the old and the new {REDIS_SECRET}",
            hint="bring back the .env the server was started with, then run `ticketctl secrets rotate` again",
        )
    return client

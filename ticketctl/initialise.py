"""What ``ticketctl up`` does once the stack is healthy: migrate the databases, create the index.

Migrating makes the application users too (as ``mysql.root_user``); ``up --no-init``
makes only them (:func:`initialise_users`), so that they exist after every ``up``.

These are the same library calls as ``ticketctl migrate`` and ``ticketctl index
create``, so a stack brought up by ``up`` and one initialised by hand are the
same. Both are idempotent: on a stack that is already initialised they change
nothing and cost a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import Settings
from ticketctl.events import Event, EventSink, Notice, StepEvent

if TYPE_CHECKING:
    from ticketctl.migrations.reports import StatusReport
    from ticketctl.search.changes import Change
    from ticketctl.search.drift import IndexDrift


def initialise_stack(
    settings: Settings, secrets: Secrets, emit: EventSink, services: frozenset[str]
) -> Mapping[str, Any]:
    """Apply pending migrations (when MySQL was started) and create the search index (when the engine was)."""
    summary: dict[str, Any] = {}
    if "mysql" in services:
        summary["migrations"] = _migrate(settings, secrets, emit)
    else:
        emit(StepEvent("migrate", "skipped", "mysql was not started by this run"))
    if settings.search.engine in services:
        summary["index"] = _create_index(settings, secrets, emit)
    else:
        emit(StepEvent("index", "skipped", f"{settings.search.engine} was not started by this run"))
    return summary


def initialise_users(
    settings: Settings, secrets: Secrets, emit: EventSink, services: frozenset[str]
) -> Mapping[str, Any]:
    """Only the application users (``up --no-init``): the init script makes the databases, not them."""
    if "mysql" not in services:
        emit(StepEvent("users", "skipped", "mysql was not started by this run"))
        return {}
    from ticketctl.migrations import ensure_users

    emit(StepEvent("users", "started", ", ".join(db.user for db in settings.mysql.databases)))
    done = ensure_users(settings, secrets)
    created = [key for key, action in done.items() if action is not None]
    emit(StepEvent("users", "done", f"created: {', '.join(created)}" if created else "all exist"))
    return {"users": done}


def _migrate(settings: Settings, secrets: Secrets, emit: EventSink) -> dict[str, Any]:
    from ticketctl.migrations import migrate
    from ticketctl.migrations.reports import APPLIED, CREATED, FAILED, MigrationEvent

    def forward(event: Event) -> None:
        if isinstance(event, MigrationEvent) and event.kind in (APPLIED, CREATED, FAILED):
            emit(Notice(f"{event.database}: {event.message}", "warning" if event.kind == FAILED else "info"))

    emit(StepEvent("migrate", "started", ", ".join(db.name for db in settings.mysql.databases)))
    report = migrate(settings, secrets, on_event=forward, check=True)
    emit(StepEvent("migrate", "done", f"{report.applied_count} migration(s) applied"))
    return {"applied": report.applied_count, "duration_ms": report.duration_ms}


def _create_index(settings: Settings, secrets: Secrets, emit: EventSink) -> dict[str, Any]:
    from ticketctl.search import create_index

    emit(StepEvent("index", "started", f"alias {settings.search.index}"))
    result = create_index(settings, secrets)
    detail = f"{result.index} created" if result.status == "created" else f"{result.index} up to date"
    emit(StepEvent("index", "done", detail))
    return {"status": result.status, "index": result.index, "spec_hash": result.spec_hash}


# --------------------------------------------------------------------------- what it would do (ticketctl plan)

IndexAction = Literal["create", "none", "in_place", "reindex", "refused", "unknown", "skipped"]


@dataclass(frozen=True)
class IndexPlan:
    """What the initialisation would do to the index: ``create`` is applied by ``up`` itself; ``in_place`` and
    ``reindex`` make ``up`` stop with exit 10 and are applied by ``ticketctl index migrate [--reindex]``."""

    action: IndexAction
    alias: str
    index: str | None = None  # the alias's index now
    to_index: str | None = None  # where the alias points afterwards
    changes: tuple[Change, ...] = ()
    drift: IndexDrift | None = None
    note: str = ""

    @property
    def changed(self) -> bool:
        return self.action in ("create", "in_place", "reindex")

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "alias": self.alias,
            "index": self.index,
            "to_index": self.to_index,
            "alias_moves": self.action == "reindex",
            "changes": [change.as_dict() for change in self.changes],
            "drift": self.drift.as_dict() if self.drift else None,
            "note": self.note,
        }


ServerState = Literal["running", "to_start", "new"]
"""A server as ``up`` finds it: ``running`` and left so, ``to_start`` (up starts or recreates it on its volume
first), or ``new`` (up creates it on a new, empty volume)."""


@dataclass(frozen=True)
class AccountPlan:
    """One application user as ``up`` would find it: ``created`` (made as ``mysql.root_user`` with ALL on its own
    database), ``password-set`` (``--sync-users``), or None (it logs in)."""

    database: str  # its key
    name: str
    user: str
    action: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"database": self.database, "name": self.name, "user": self.user, "action": self.action}


@dataclass(frozen=True)
class UsersPlan:
    """What ``up`` (with or without ``--no-init``) would do to the application users; ``known`` is False where
    MySQL cannot be read until up has started it (``note`` says why)."""

    accounts: tuple[AccountPlan, ...] = ()
    known: bool = True
    note: str = ""

    @property
    def to_create(self) -> frozenset[str]:
        return frozenset(account.database for account in self.accounts if account.action is not None)

    def as_dict(self) -> dict[str, Any]:
        return {"accounts": [a.as_dict() for a in self.accounts], "known": self.known, "note": self.note}


def preview_users(settings: Settings, secrets: Secrets, services: frozenset[str], server: ServerState) -> UsersPlan:
    """:func:`initialise_users` without doing it: a login attempt per user, ``mysql.user`` read for a refused one."""
    from ticketctl.errors import DatabaseError
    from ticketctl.migrations import ensure_users
    from ticketctl.migrations.reports import ACCOUNT_CREATED

    databases = settings.mysql.databases
    if "mysql" not in services:
        return UsersPlan(note="mysql is not started by this up: no user is made")
    if server == "new":
        return UsersPlan(tuple(AccountPlan(db.key, db.name, db.user, ACCOUNT_CREATED) for db in databases))
    try:
        done = ensure_users(settings, secrets, dry_run=True)
    except DatabaseError as error:
        if server == "to_start":
            return UsersPlan(known=False, note=f"unknown until up has started MySQL ({error.message})")
        raise
    return UsersPlan(tuple(AccountPlan(db.key, db.name, db.user, done.get(db.key)) for db in databases))


def preview_migrations(
    settings: Settings, secrets: Secrets, services: frozenset[str], server: ServerState
) -> tuple[UsersPlan, StatusReport | None, str]:
    """The users up would make, ``migrate status`` as ``up`` would migrate, and a note. Where MySQL does not answer
    because up has still to start it, a new server has every file pending and one on an existing volume is unknown
    until it runs.

    ``status`` logs in as each application user, so when all log in no user is to be made and nothing more is
    read; only a refused login costs the users' preview, then the status again with the databases whose user is
    still to be made read as ``mysql.root_user``.
    """
    from ticketctl.errors import DatabaseError
    from ticketctl.migrations import status
    from ticketctl.migrations.runner import login_refused, status_of_new_databases

    if "mysql" not in services:
        return UsersPlan(), None, "mysql is not started by this up: nothing is migrated"
    try:
        try:
            report = status(settings, secrets)
            everyone = tuple(AccountPlan(db.key, db.name, db.user, None) for db in settings.mysql.databases)
            return UsersPlan(everyone), report, ""
        except DatabaseError as error:
            if not login_refused(error):
                raise
        users = preview_users(settings, secrets, services, server)
        return users, status(settings, secrets, as_root=users.to_create), ""
    except DatabaseError as error:
        if server == "new":
            return (
                preview_users(settings, secrets, services, "new"),
                status_of_new_databases(settings),
                "MySQL is still to be created by up: every migration applies",
            )
        if server == "to_start":
            unknown = f"unknown until up has started MySQL ({error.message})"
            return UsersPlan(known=False, note=unknown), None, f"{unknown}; run plan again after 'up --no-init'"
        raise


def preview_index(settings: Settings, secrets: Secrets, services: frozenset[str], server: ServerState) -> IndexPlan:
    """What ``index create`` (and, where up stops, ``index migrate``) would do to the alias; reads only."""
    from ticketctl.errors import SearchError
    from ticketctl.search import index_status
    from ticketctl.search.changes import needs_reindex
    from ticketctl.search.state import version_name

    alias = settings.search.index
    engine = settings.search.engine
    if engine not in services:
        return IndexPlan("skipped", alias, note=f"{engine} is not started by this up")
    try:
        status = index_status(settings, secrets, dry_run=True)
    except SearchError as error:
        if server == "new":
            return IndexPlan("create", alias, to_index=version_name(alias, 1), note=f"{engine} is still to be created")
        if server == "to_start":
            return IndexPlan("unknown", alias, note=f"unknown until up has started {engine} ({error.message})")
        raise
    current = status.index.name if status.index else None
    following = version_name(alias, max((v.version or 0 for v in status.versions), default=0) + 1)
    if status.state == "missing":
        if status.conflicting_index:
            return IndexPlan(
                "refused", alias, note=f"a concrete index named {alias} exists: up stops; 'ticketctl index adopt'"
            )
        return IndexPlan("create", alias, to_index=following)
    common: dict[str, Any] = {"index": current, "changes": tuple(status.changes), "drift": status.drift}
    if status.state == "in_sync":
        return IndexPlan("none", alias, to_index=current, **common)
    if needs_reindex(status.changes):
        return IndexPlan(
            "reindex",
            alias,
            to_index=following,
            note="up stops here (exit 10); 'ticketctl index migrate --reindex' copies the documents into "
            f"{following} and moves the alias {alias} to it",
            **common,
        )
    return IndexPlan(
        "in_place",
        alias,
        to_index=current,
        note="up stops here (exit 10); 'ticketctl index migrate' applies it to the live index",
        **common,
    )

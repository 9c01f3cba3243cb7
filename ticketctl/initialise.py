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
from typing import Any

from ticketctl.config.secrets import Secrets
from ticketctl.config.settings import Settings
from ticketctl.events import Event, EventSink, Notice, StepEvent


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

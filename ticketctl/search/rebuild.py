"""``index migrate --reindex`` from the database: a new version filled by :func:`copy_database`.

The current version stays writable the whole time — ``index sync --follow`` and the
indexer keep writing to it through the alias — because nothing is copied from it: the
new version is filled from the events database at a noted outbox position, caught up
with every outbox row since, compared with the database while the outbox is held
still, and only then given the alias, in the same held moment. Elasticsearch without
the reindex module can do all of it. The copy from the old version (``_reindex`` with
the source write-blocked, :mod:`ticketctl.search.reindex`) stays for ``--source index``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ticketctl.clients.search import Request, SearchConnection
from ticketctl.data.projection import DOCUMENT_FIELDS
from ticketctl.errors import ConfigError, DatabaseError
from ticketctl.events import Event, EventSink, ignore
from ticketctl.search.lock import IndexLock
from ticketctl.search.reindex import LOCK_REFRESH_SECONDS, send_create
from ticketctl.search.results import IndexEvent
from ticketctl.search.spec import MappingFile
from ticketctl.search.sync import (
    ContentCheck,
    CopyReport,
    SyncMismatchError,
    check_database,
    copy_database,
    open_events_database,
)

if TYPE_CHECKING:
    from ticketctl.config.settings import Settings


def require_projected_fields(mapping: MappingFile) -> None:
    """Refuse a mapping file without a field that every document has, before anything is created."""
    properties = mapping.mappings.get("properties") or {}
    missing = [name for name in DOCUMENT_FIELDS if name not in properties]
    if missing:
        raise ConfigError(
            f"{mapping.where('mappings', 'properties')}: the mapping has no field "
            f"{', '.join(repr(name) for name in missing)}, which every document of an event has",
            hint="add it to mappings.properties (the packaged mappings/events.json has them all)",
        )


def rebuild_from_database(
    connection: SearchConnection,
    settings: Settings,
    secrets: Mapping[str, str],
    *,
    mapping: MappingFile,
    create: Request,
    swap: Request,
    old_index: str,
    dest: str,
    lock: IndexLock,
    force: bool,
    on_event: EventSink | None,
) -> CopyReport:
    """Create ``dest``, fill it from the database, and send ``swap`` if it matches the database (or ``force``)."""
    emit = on_event or ignore
    require_projected_fields(mapping)
    try:
        with open_events_database(settings, secrets) as session:  # before anything is created
            check_database(session, settings)
    except DatabaseError as error:
        raise DatabaseError(
            error.message,
            hint=f"{error.hint + '; ' if error.hint else ''}or copy from the current version instead: "
            "'ticketctl index migrate --reindex --source index'",
            exit_code=error.exit_code,
        ) from error
    emit(IndexEvent("step", f"creating {dest}"))
    send_create(connection, create, mapping)
    # Nobody searches the new version yet: no refresh until the copy is done (the check refreshes it).
    connection.send(Request("PUT", f"/{dest}/_settings", body={"index": {"refresh_interval": "-1"}}))

    def swap_if_equal(check: ContentCheck) -> None:
        connection.send(Request("PUT", f"/{dest}/_settings", body={"index": {"refresh_interval": None}}))
        if not check.ok and not force:
            raise SyncMismatchError(
                f"{dest} does not match the events database: {check.describe()}; the alias was not moved",
                hint=f"inspect {dest}, then run the migration again ('ticketctl index prune' removes {dest}); "
                "--force swaps anyway",
            )
        if not check.ok:
            emit(IndexEvent("warning", f"{dest} differs from the database ({check.describe()}): swapped (--force)"))
        emit(IndexEvent("step", f"swapping alias {swap_alias(swap)}: {old_index} → {dest}"))
        connection.send(swap)

    report = copy_database(
        connection, settings, secrets, dest, prune=False, at_freeze=swap_if_equal, on_event=_refreshing(lock, emit)
    )
    # Writes that still resolve the alias to the old version get 403 and go to the new one on retry.
    connection.send(Request("PUT", f"/{old_index}/_settings", body={"index": {"blocks.write": True}}))
    return report


def swap_alias(swap: Request) -> str:
    actions: list[dict[str, Any]] = swap.body["actions"]
    return str(next(iter(actions[-1].values()))["alias"])


def _refreshing(lock: IndexLock, emit: EventSink) -> EventSink:
    """Pass events on, and keep the migration lock alive while the copy reports progress."""
    last = time.monotonic()

    def forward(event: Event) -> None:
        nonlocal last
        if time.monotonic() - last > LOCK_REFRESH_SECONDS:
            lock.refresh()
            last = time.monotonic()
        emit(event)

    return forward

"""The live index against the file: ``status``, ``diff`` and ``migrate`` (in place, or through a new version).

Changes that an open index accepts are applied in place; any other needs a
reindex: a new version is created, the documents are copied with the source
write-blocked and counted, and the alias is swapped in one ``_aliases`` call.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Unpack

from ticketctl.clients.search import Request, SearchRequestError
from ticketctl.config.settings import Settings
from ticketctl.errors import DriftError, MissingError, SearchError
from ticketctl.search.changes import Change, diff_specs, is_dynamic_setting, needs_reindex
from ticketctl.search.lock import IndexLock
from ticketctl.search.reindex import copy_and_swap, plan_copy, plan_copy_and_swap, require_reindex_module
from ticketctl.search.results import Confirm, DiffResult, MigrateResult, StatusResult
from ticketctl.search.session import (
    MappedOptions,
    MappedSession,
    mapped_session,
    refuse_orphans,
    refuse_red,
    summary,
    target_of,
    wait_for_yellow,
)
from ticketctl.search.spec import NormalSpec, creation_body, mappings_body
from ticketctl.search.state import AliasState, LiveIndex, count_documents, read_state, version_name
from ticketctl.search.versions import prune_after_migrate, swap_request


def index_status(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    **options: Unpack[MappedOptions],
) -> StatusResult:
    """Where the alias points, health, documents, and whether the live spec matches the file."""
    with mapped_session(settings, secrets, **options) as session:
        health = session.connection.health(timeout=1)
        wanted, _ = session.desired(health)
        state = read_state(session.connection, session.alias)
        common: dict[str, Any] = {
            "cluster_health": health.get("status"),
            "file_hash": wanted.digest(),
            "versions": list(state.versions),
            "conflicting_index": state.conflicting_index.name if state.conflicting_index else None,
            "mapping_file": session.mapping.display,
        }
        if not state.exists:
            return StatusResult(**session.base(), state="missing", **common)
        target = target_of(state)
        refuse_red(session, target)
        live = session.live_spec(target)
        changes = diff_specs(live, wanted)
        docs = count_documents(session.connection, target.name)
        return StatusResult(
            **session.base(),
            state="drift" if changes else "in_sync",
            index=target,
            docs=docs,
            live_hash=live.digest(),
            changes=changes,
            **common,
        )


def diff(settings: Settings, secrets: Mapping[str, str] | None = None, **options: Unpack[MappedOptions]) -> DiffResult:
    """The normalised differences between the live index and the file, each in place or needs reindex."""
    status = index_status(settings, secrets, **options)
    return DiffResult(
        alias=status.alias,
        server=status.server,
        dry_run=status.dry_run,
        requests=status.requests,
        warnings=status.warnings,
        state=status.state,
        index=status.index.name if status.index else None,
        changes=status.changes,
        mapping_file=status.mapping_file,
    )


def migrate_index(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    *,
    reindex: bool = False,
    keep: int | None = None,
    confirm: Confirm | None = None,
    **options: Unpack[MappedOptions],
) -> MigrateResult:
    """Bring the live index to the file's spec.

    Changes that an open index accepts are applied in place (``_settings``,
    ``_mapping``, ``_meta``). Any other change needs ``reindex=True``: a new
    version is created, the documents are copied with the source write-blocked,
    counted, and the alias is swapped in one ``_aliases`` call. The old version
    is kept; ``keep=N`` then deletes unaliased versions beyond the newest N,
    after ``confirm``.
    """
    started = time.monotonic()
    with mapped_session(settings, secrets, **options) as session:
        health = wait_for_yellow(session)
        wanted, replicas = session.desired(health)
        state, target, changes = _migration_plan(session, wanted, reindex)
        if not changes:
            return MigrateResult(**session.base(), action="up_to_date", from_index=target.name, to_index=target.name)
        with IndexLock(session.connection, session.alias, "migrate") as lock:
            if not session.connection.dry_run:  # another process may have migrated while we waited for the lock
                state, target, changes = _migration_plan(session, wanted, reindex)
            if not changes:
                result = MigrateResult(
                    **session.base(), action="up_to_date", from_index=target.name, to_index=target.name
                )
            elif needs_reindex(changes):
                result = _reindex_into_new_version(session, lock, state, target, wanted, replicas, changes, started)
            else:
                _apply_in_place(session, target, changes, wanted)
                result = MigrateResult(
                    **session.base(),
                    action="planned" if session.connection.dry_run else "in_place",
                    from_index=target.name,
                    to_index=target.name,
                    changes=changes,
                    seconds=time.monotonic() - started,
                )
        if keep is not None and result.action == "reindexed":
            result = prune_after_migrate(session, result, keep, confirm)
        return session.final(result)


def _migration_plan(
    session: MappedSession, wanted: NormalSpec, reindex: bool
) -> tuple[AliasState, LiveIndex, list[Change]]:
    """Read the live state and the changes; refuse a missing alias, or a reindex that was not allowed."""
    state = read_state(session.connection, session.alias)
    if not state.exists:
        refuse_orphans(state)
        raise MissingError(
            f"alias {session.alias} does not exist: nothing to migrate",
            hint="create it with 'ticketctl index create'",
        )
    target = target_of(state)
    changes = session.changes(target, wanted)
    if needs_reindex(changes) and not reindex:
        blocking = [change for change in changes if not change.in_place]
        raise DriftError(
            f"{len(blocking)} change(s) of {session.alias} → {target.name} need a reindex: {summary(blocking)}",
            hint=f"run 'ticketctl index migrate --reindex' to copy the documents into "
            f"{version_name(session.alias, state.next_version)} and swap the alias; nothing was changed",
        )
    return state, target, changes


def _apply_in_place(session: MappedSession, target: LiveIndex, changes: list[Change], wanted: NormalSpec) -> None:
    setting_changes = {
        change.path: change.wanted
        for change in changes
        if change.area == "settings" and is_dynamic_setting(change.path)
    }
    if setting_changes:
        session.emit("step", f"updating settings of {target.name}: {', '.join(sorted(setting_changes))}")
        session.connection.send(Request("PUT", f"/{target.name}/_settings", body={"index": setting_changes}))
    session.emit("step", f"updating the mapping of {target.name}")
    try:
        session.connection.send(
            Request("PUT", f"/{target.name}/_mapping", body=mappings_body(session.mapping, wanted.digest()))
        )
    except SearchRequestError as error:
        raise SearchError(
            f"{target.name}: the server refused the mapping change in place: {error.reason}",
            hint="run 'ticketctl index migrate --reindex' to apply it through a new version",
        ) from error
    if session.connection.dry_run:
        return
    after = read_state(session.connection, session.alias)
    remaining = session.changes(target_of(after), wanted)
    if remaining:
        raise DriftError(
            f"{target.name} still differs after the in-place update: {summary(remaining)}",
            hint="run 'ticketctl index migrate --reindex' to apply it through a new version",
        )


def _reindex_into_new_version(
    session: MappedSession,
    lock: IndexLock,
    state: AliasState,
    source: LiveIndex,
    wanted: NormalSpec,
    replicas: int,
    changes: list[Change],
    started: float,
) -> MigrateResult:
    connection = session.connection
    require_reindex_module(connection)
    dest = version_name(session.alias, state.next_version)
    body = creation_body(
        session.mapping, shards=session.settings.search.shards, replicas=replicas, alias=None, spec_hash=wanted.digest()
    )
    plan = plan_copy(source.name, dest, body)
    swap = swap_request(session.alias, source.name, dest)
    if connection.dry_run:
        plan_copy_and_swap(connection, plan, swap)
        return MigrateResult(**session.base(), action="planned", from_index=source.name, to_index=dest, changes=changes)
    documents = copy_and_swap(
        connection, plan, swap, session.mapping, lock=lock, on_event=session.on_event, alias=session.alias
    )
    return MigrateResult(
        **session.base(),
        action="reindexed",
        from_index=source.name,
        to_index=dest,
        changes=changes,
        documents=documents,
        seconds=time.monotonic() - started,
    )

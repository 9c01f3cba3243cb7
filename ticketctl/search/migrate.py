"""The live index against the file: ``status``, ``diff`` and ``migrate`` (in place, or through a new version).

Changes that an open index accepts are applied in place; any other needs a
reindex: a new version is created and filled — from the events database and the
outbox (:mod:`ticketctl.search.rebuild`, the default) or from the current version
with ``_reindex`` and the source write-blocked — checked, and the alias is swapped
in one ``_aliases`` call.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Unpack

from ticketctl.clients.search import Request, SearchRequestError
from ticketctl.config.settings import Settings
from ticketctl.errors import DriftError, MissingError, SearchError
from ticketctl.search.changes import Change, diff_specs, is_dynamic_setting, needs_reindex
from ticketctl.search.drift import hand_changes
from ticketctl.search.lock import IndexLock
from ticketctl.search.reindex import copy_and_swap, plan_copy, plan_copy_and_swap, require_reindex_module
from ticketctl.search.results import Confirm, DiffResult, MigrateAction, MigrateResult, StatusResult
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

ReindexSource = Literal["database", "index"]


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
            drift=hand_changes(target, wanted),
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
        drift=status.drift,
    )


def migrate_index(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    *,
    reindex: bool = False,
    keep: int | None = None,
    confirm: Confirm | None = None,
    source: ReindexSource = "database",
    rebuild: bool = False,
    force: bool = False,
    **options: Unpack[MappedOptions],
) -> MigrateResult:
    """Bring the live index to the file's spec.

    Changes that an open index accepts are applied in place (``_settings``,
    ``_mapping``, ``_meta``). Any other change needs ``reindex=True``: a new
    version is created and filled, and the alias is swapped in one ``_aliases``
    call. ``source="database"`` fills it from the events database and the outbox
    (:mod:`ticketctl.search.rebuild`; ``force`` swaps even when it does not match
    the database); ``source="index"`` copies the current version with ``_reindex``,
    write-blocked. ``rebuild`` makes a new version even when nothing changed. The
    old version is kept; ``keep=N`` then deletes unaliased versions beyond the
    newest N, after ``confirm``.
    """
    reindex = reindex or rebuild
    started = time.monotonic()
    with mapped_session(settings, secrets, **options) as session:
        health = wait_for_yellow(session)
        wanted, replicas = session.desired(health)
        state, target, changes = _migration_plan(session, wanted, reindex)
        if not changes and not rebuild:
            return MigrateResult(**session.base(), action="up_to_date", from_index=target.name, to_index=target.name)
        with IndexLock(session.connection, session.alias, "migrate") as lock:
            if not session.connection.dry_run:  # another process may have migrated while we waited for the lock
                state, target, changes = _migration_plan(session, wanted, reindex)
            if not changes and not rebuild:
                result = MigrateResult(
                    **session.base(), action="up_to_date", from_index=target.name, to_index=target.name
                )
            elif (needs_reindex(changes) or rebuild) and source == "database":
                version = _new_version(session, state, target, wanted, replicas, changes)
                result = _rebuild_into_new_version(session, lock, version, _Copy(secrets or {}, force, started))
            elif needs_reindex(changes) or rebuild:
                version = _new_version(session, state, target, wanted, replicas, changes)
                result = _reindex_into_new_version(session, lock, version, started)
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
        session.connection.send(Request("PUT", f"/{target.name}/_mapping", body=mappings_body(session.mapping, wanted)))
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


@dataclass(frozen=True)
class _NewVersion:
    """The version a reindex makes: the one it replaces, its name, its creation body, the swap, and why."""

    source: LiveIndex
    dest: str
    body: dict[str, Any]
    swap: Request
    changes: list[Change]

    def result(
        self, session: MappedSession, action: MigrateAction, source: ReindexSource, **extra: Any
    ) -> MigrateResult:
        return MigrateResult(
            **session.base(),
            action=action,
            from_index=self.source.name,
            to_index=self.dest,
            changes=self.changes,
            source=source,
            **extra,
        )


def _new_version(
    session: MappedSession,
    state: AliasState,
    source: LiveIndex,
    wanted: NormalSpec,
    replicas: int,
    changes: list[Change],
) -> _NewVersion:
    """The next version, with the file's spec and no alias yet (the swap adds it)."""
    dest = version_name(session.alias, state.next_version)
    body = creation_body(
        session.mapping, shards=session.settings.search.shards, replicas=replicas, alias=None, spec=wanted
    )
    return _NewVersion(source, dest, body, swap_request(session.alias, source.name, dest), changes)


def _reindex_into_new_version(
    session: MappedSession, lock: IndexLock, version: _NewVersion, started: float
) -> MigrateResult:
    connection = session.connection
    try:
        require_reindex_module(connection)
    except SearchError as error:
        raise SearchError(
            error.message,
            hint=f"{error.hint}; or copy from the events database: 'ticketctl index migrate --reindex --source "
            "database' (the default)",
        ) from error
    plan = plan_copy(version.source.name, version.dest, version.body)
    if connection.dry_run:
        plan_copy_and_swap(connection, plan, version.swap)
        return version.result(session, "planned", "index")
    documents = copy_and_swap(
        connection, plan, version.swap, session.mapping, lock=lock, on_event=session.on_event, alias=session.alias
    )
    return version.result(session, "reindexed", "index", documents=documents, seconds=time.monotonic() - started)


@dataclass(frozen=True)
class _Copy:
    """What a copy from the database needs beyond the session: the database passwords, --force, the start."""

    secrets: Mapping[str, str]
    force: bool
    started: float


def _rebuild_into_new_version(
    session: MappedSession, lock: IndexLock, version: _NewVersion, copy: _Copy
) -> MigrateResult:
    from ticketctl.search.rebuild import rebuild_from_database

    create = Request("PUT", f"/{version.dest}", {"wait_for_active_shards": "1"}, version.body)
    if session.connection.dry_run:
        for request in (create, version.swap):
            session.connection.plan(request)
        return version.result(session, "planned", "database")
    report = rebuild_from_database(
        session.connection,
        session.settings,
        copy.secrets,
        mapping=session.mapping,
        create=create,
        swap=version.swap,
        old_index=version.source.name,
        dest=version.dest,
        lock=lock,
        force=copy.force,
        on_event=session.on_event,
    )
    return version.result(
        session,
        "reindexed",
        "database",
        documents=report.check.documents,
        seconds=time.monotonic() - copy.started,
        copy=report.as_dict(),
    )

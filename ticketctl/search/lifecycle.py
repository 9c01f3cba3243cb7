"""The index verbs: create, status, diff, migrate, rollback, prune, adopt.

Each takes the settings, the secrets and keyword options, makes its requests
through one :class:`~ticketctl.clients.search.SearchConnection`, and returns
a result from :mod:`ticketctl.search.results`. They never print and never
prompt: a destructive step asks the injected ``confirm(question) -> bool``
and refuses (:class:`~ticketctl.errors.AbortedError`) without it.

Versions are concrete indices ``<alias>_v<N>``; the alias (``search.index``,
default ``events``) points to exactly one of them, as the write index.
Nothing here deletes an index holding documents, except ``prune`` (and
``migrate --keep``) after ``confirm``, and never the index the alias points to.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from ticketctl.clients.search import Request, SearchConnection, SearchRequestError, connect
from ticketctl.config.settings import Settings
from ticketctl.errors import AbortedError, ConfigError, ExitCode, SearchError, TicketctlError
from ticketctl.search.changes import Change, diff_specs, is_dynamic_setting, needs_reindex
from ticketctl.search.checks import check_mapping
from ticketctl.search.lock import IndexLock
from ticketctl.search.reindex import copy_documents, plan_copy, require_reindex_module, send_create, write_blocked
from ticketctl.search.results import (
    Confirm,
    DiffResult,
    EventKind,
    IndexEvent,
    IndexResult,
    MigrateResult,
    OnEvent,
    PruneResult,
    RollbackResult,
    StatusResult,
)
from ticketctl.search.spec import (
    MappingFile,
    NormalSpec,
    creation_body,
    desired_spec,
    load_mapping,
    managed_setting_keys,
    mappings_body,
)
from ticketctl.search.state import AliasState, LiveIndex, count_documents, read_state, version_name

ReindexSource = Literal["database", "index"]
# How long a writing verb waits for the cluster to turn yellow, in units of search.timeout (10 s → 30 s).
HEALTH_WAIT_TIMEOUTS = 3
_R = TypeVar("_R", IndexResult, StatusResult, MigrateResult, RollbackResult, PruneResult)


class DriftError(TicketctlError):
    """The live index differs from the file in a way this command will not resolve by itself."""

    exit_code = ExitCode.DRIFT


class MissingIndexError(TicketctlError):
    """The alias (or the version asked for) does not exist."""

    exit_code = ExitCode.MISSING


# --------------------------------------------------------------------------- shared plumbing


@dataclass
class _Session:
    """One verb's connection, mapping file and event sink."""

    settings: Settings
    connection: SearchConnection
    mapping: MappingFile | None
    on_event: OnEvent | None
    first_request: int = 0
    first_warning: int = 0

    @property
    def alias(self) -> str:
        return self.settings.search.index

    def emit(self, kind: EventKind, message: str) -> None:
        if self.on_event is not None:
            self.on_event(IndexEvent(kind, message))

    def base(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "server": self.connection.info,
            "dry_run": self.connection.dry_run,
            "requests": self.connection.sent[self.first_request :],
            "warnings": self.connection.warnings[self.first_warning :],
        }

    def final(self, result: _R) -> _R:
        """The result with every request of this verb, including those sent after it was built (lock release)."""
        from dataclasses import replace

        return replace(result, requests=self.connection.sent[self.first_request :])


@contextmanager
def _session(
    settings: Settings,
    secrets: Mapping[str, str] | None,
    *,
    mapping_path: Path | None,
    need_mapping: bool,
    dry_run: bool,
    on_event: OnEvent | None,
    connection: SearchConnection | None,
) -> Iterator[_Session]:
    mapping = _load_checked_mapping(mapping_path) if need_mapping else None
    owned = connection is None
    conn = connection or connect(settings, secrets, dry_run=dry_run)
    if conn.dry_run != dry_run:
        raise ValueError("the injected connection's dry_run differs from the dry_run argument")
    try:
        session = _Session(
            settings=settings,
            connection=conn,
            mapping=mapping,
            on_event=on_event,
            first_request=len(conn.sent),
            first_warning=len(conn.warnings),
        )
        for warning in conn.warnings:
            session.emit("warning", warning)
        yield session
    finally:
        if owned:
            conn.close()


def _load_checked_mapping(mapping_path: Path | None) -> MappingFile:
    mapping = load_mapping(mapping_path)
    errors = [issue for issue in check_mapping(mapping) if issue.severity == "error"]
    if errors:
        raise ConfigError(
            errors[0].line() + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
            hint=f"'ticketctl index validate --offline --mapping {mapping.display}' lists every finding",
        )
    return mapping


def _wait_for_yellow(session: _Session) -> dict[str, Any]:
    """Wait until this alias's versions are at least yellow (the node is ready, our shards are placed).

    The health is scoped to ``<alias>_v*`` so that a red index of someone else on a shared
    cluster does not block us; with none of our versions yet, the answer is green at once.
    """
    wait = HEALTH_WAIT_TIMEOUTS * session.settings.search.timeout
    pattern = f"{session.alias}_v*"
    health: dict[str, Any] = session.connection.health(wait_for_status="yellow", index=pattern, timeout=wait)
    if health.get("timed_out") or health.get("status") not in ("yellow", "green"):
        info = session.connection.info
        raise SearchError(
            f"{info.label} at {info.url}: indices {pattern} of cluster {health.get('cluster_name')} are "
            f"{health.get('status')} after {wait:g}s",
            hint="check the server's log and 'GET _cluster/allocation/explain'; ticketctl waits for yellow "
            f"up to {HEALTH_WAIT_TIMEOUTS} × search.timeout",
            exit_code=ExitCode.UNHEALTHY,
        )
    return health


def resolve_replicas(settings: Settings, data_nodes: int) -> int:
    """``search.replicas``: an integer as given; ``auto`` is 0 on one data node (else yellow forever), 1 otherwise."""
    replicas = settings.search.replicas
    if isinstance(replicas, int):
        return replicas
    return 0 if data_nodes <= 1 else 1


def _desired(session: _Session, health: Mapping[str, Any]) -> tuple[NormalSpec, int]:
    assert session.mapping is not None
    replicas = resolve_replicas(session.settings, int(health.get("number_of_data_nodes") or 1))
    spec = desired_spec(session.mapping, shards=session.settings.search.shards, replicas=replicas)
    return spec, replicas


def _target(session: _Session, state: AliasState) -> LiveIndex:
    target = state.target
    if target is None:
        names = ", ".join(index.name for index in state.targets)
        raise SearchError(
            f"alias {state.alias} points to several indices without one write index: {names}",
            hint=f"point it at one with 'ticketctl index rollback --to <version>' (alias {state.alias})",
        )
    if target.is_closed:
        raise SearchError(
            f"{target.name} (alias {state.alias}) is closed", hint=f"open it with 'POST /{target.name}/_open'"
        )
    return target


def _refuse_red(session: _Session, target: LiveIndex) -> None:
    """A red index has a primary shard nowhere: its documents cannot be counted or searched, and retrying
    the 503 that ``_count`` answers would only delay the news."""
    if target.health != "red":
        return
    info = session.connection.info
    raise SearchError(
        f"{info.label} at {info.url}: index {target.name} (alias {session.alias}) is red: a primary shard is not "
        "allocated, so its documents cannot be read",
        hint=f"'GET _cluster/allocation/explain' says why (a lost node, a full disk, an allocation filter on "
        f"{target.name}); fix that, then run 'ticketctl index status' again",
    )


def _changes(session: _Session, target: LiveIndex, wanted: NormalSpec) -> list[Change]:
    assert session.mapping is not None
    live = target.normal_spec(managed_setting_keys(session.mapping))
    return diff_specs(live, wanted)


def _refuse_orphans(state: AliasState) -> None:
    if state.conflicting_index is not None:
        raise SearchError(
            f"a concrete index named {state.alias} exists, so the alias {state.alias} cannot be created",
            hint=f"'ticketctl index adopt' copies it into {state.alias}_v1 and replaces it by the alias",
        )
    if not state.exists and state.versions:
        names = ", ".join(index.name for index in state.versions)
        raise SearchError(
            f"{names} exist but no alias {state.alias} points to them",
            hint=f"point the alias at one with 'ticketctl index rollback --to <version>' (alias {state.alias})",
        )


def _summary(changes: list[Change], limit: int = 3) -> str:
    text = ", ".join(f"{change.path} ({change.kind})" for change in changes[:limit])
    return text + (f" and {len(changes) - limit} more" if len(changes) > limit else "")


# --------------------------------------------------------------------------- create


def create_index(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    *,
    mapping_path: Path | None = None,
    dry_run: bool = False,
    on_event: OnEvent | None = None,
    connection: SearchConnection | None = None,
) -> IndexResult:
    """Create ``<alias>_v1`` with the file's spec and the alias as its write index, in one request.

    Up to date (the same spec is live) → nothing is sent. A different live spec →
    :class:`DriftError` pointing to ``diff``/``migrate``. A concrete index named
    like the alias → refused, pointing to ``adopt``.
    """
    started = time.monotonic()
    with _session(
        settings,
        secrets,
        mapping_path=mapping_path,
        need_mapping=True,
        dry_run=dry_run,
        on_event=on_event,
        connection=connection,
    ) as session:
        assert session.mapping is not None
        health = _wait_for_yellow(session)
        wanted, replicas = _desired(session, health)
        digest = wanted.digest()
        state = read_state(session.connection, session.alias)
        common: dict[str, Any] = {"spec_hash": digest, "replicas": replicas, "shards": settings.search.shards}
        if state.exists:
            target = _target(session, state)
            changes = _changes(session, target, wanted)
            if changes:
                raise DriftError(
                    f"{session.alias} → {target.name} differs from {session.mapping.display}: {_summary(changes)}",
                    hint="see 'ticketctl index diff'; apply it with 'ticketctl index migrate' "
                    "(plus --reindex when a change needs it)",
                )
            return IndexResult(
                **session.base(), status="up_to_date", index=target.name, seconds=time.monotonic() - started, **common
            )
        _refuse_orphans(state)
        name = version_name(session.alias, state.next_version)
        body = creation_body(
            session.mapping, shards=settings.search.shards, replicas=replicas, alias=session.alias, spec_hash=digest
        )
        session.emit("step", f"creating {name} with alias {session.alias}")
        request = Request("PUT", f"/{name}", {"wait_for_active_shards": "1"}, body)
        try:
            send_create(session.connection, request, session.mapping)
        except SearchRequestError as error:
            if error.error_type != "resource_already_exists_exception":
                raise
            return _created_concurrently(session, wanted, common, started)
        status: Literal["planned", "created"] = "planned" if dry_run else "created"
        return IndexResult(**session.base(), status=status, index=name, seconds=time.monotonic() - started, **common)


def _created_concurrently(session: _Session, wanted: NormalSpec, common: dict[str, Any], started: float) -> IndexResult:
    """Another process created the first version between our read and our write: accept it if it matches."""
    state = read_state(session.connection, session.alias)
    target = _target(session, state) if state.exists else None
    if target is None or _changes(session, target, wanted):
        raise DriftError(
            f"another process created {session.alias} concurrently with a different spec",
            hint="see 'ticketctl index diff'",
        )
    return IndexResult(
        **session.base(), status="up_to_date", index=target.name, seconds=time.monotonic() - started, **common
    )


# --------------------------------------------------------------------------- status and diff


def index_status(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    *,
    mapping_path: Path | None = None,
    dry_run: bool = False,
    on_event: OnEvent | None = None,
    connection: SearchConnection | None = None,
) -> StatusResult:
    """Where the alias points, health, documents, and whether the live spec matches the file."""
    with _session(
        settings,
        secrets,
        mapping_path=mapping_path,
        need_mapping=True,
        dry_run=dry_run,
        on_event=on_event,
        connection=connection,
    ) as session:
        assert session.mapping is not None
        health = session.connection.health(timeout=1)
        wanted, _ = _desired(session, health)
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
        target = _target(session, state)
        _refuse_red(session, target)
        live = target.normal_spec(managed_setting_keys(session.mapping))
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


def diff(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    *,
    mapping_path: Path | None = None,
    dry_run: bool = False,
    on_event: OnEvent | None = None,
    connection: SearchConnection | None = None,
) -> DiffResult:
    """The normalised differences between the live index and the file, each in place or needs reindex."""
    status = index_status(
        settings,
        secrets,
        mapping_path=mapping_path,
        dry_run=dry_run,
        on_event=on_event,
        connection=connection,
    )
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


# --------------------------------------------------------------------------- migrate


def migrate_index(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    *,
    mapping_path: Path | None = None,
    reindex: bool = False,
    keep: int | None = None,
    confirm: Confirm | None = None,
    dry_run: bool = False,
    on_event: OnEvent | None = None,
    connection: SearchConnection | None = None,
    source: ReindexSource = "database",
    rebuild: bool = False,
    force: bool = False,
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
    with _session(
        settings,
        secrets,
        mapping_path=mapping_path,
        need_mapping=True,
        dry_run=dry_run,
        on_event=on_event,
        connection=connection,
    ) as session:
        assert session.mapping is not None
        health = _wait_for_yellow(session)
        wanted, replicas = _desired(session, health)
        state, target, changes = _migration_plan(session, wanted, reindex)
        if not changes and not rebuild:
            return MigrateResult(**session.base(), action="up_to_date", from_index=target.name, to_index=target.name)
        with IndexLock(session.connection, session.alias, "migrate") as lock:
            if not dry_run:  # another process may have migrated while we waited for the lock
                state, target, changes = _migration_plan(session, wanted, reindex)
            if not changes and not rebuild:
                result = MigrateResult(
                    **session.base(), action="up_to_date", from_index=target.name, to_index=target.name
                )
            elif (needs_reindex(changes) or rebuild) and source == "database":
                copy = _Copy(secrets or {}, force, started)
                result = _rebuild_into_new_version(session, lock, state, target, wanted, replicas, changes, copy)
            elif needs_reindex(changes) or rebuild:
                result = _reindex_into_new_version(session, lock, state, target, wanted, replicas, changes, started)
            else:
                _apply_in_place(session, target, changes, wanted)
                result = MigrateResult(
                    **session.base(),
                    action="planned" if dry_run else "in_place",
                    from_index=target.name,
                    to_index=target.name,
                    changes=changes,
                    seconds=time.monotonic() - started,
                )
        if keep is not None and result.action == "reindexed":
            result = _prune_after_migrate(session, result, keep, confirm)
        return session.final(result)


def _migration_plan(session: _Session, wanted: NormalSpec, reindex: bool) -> tuple[AliasState, LiveIndex, list[Change]]:
    """Read the live state and the changes; refuse a missing alias, or a reindex that was not allowed."""
    state = read_state(session.connection, session.alias)
    if not state.exists:
        _refuse_orphans(state)
        raise MissingIndexError(
            f"alias {session.alias} does not exist: nothing to migrate",
            hint="create it with 'ticketctl index create'",
        )
    target = _target(session, state)
    changes = _changes(session, target, wanted)
    if needs_reindex(changes) and not reindex:
        blocking = [change for change in changes if not change.in_place]
        raise DriftError(
            f"{len(blocking)} change(s) of {session.alias} → {target.name} need a reindex: {_summary(blocking)}",
            hint=f"run 'ticketctl index migrate --reindex' to copy the documents into "
            f"{version_name(session.alias, state.next_version)} and swap the alias; nothing was changed",
        )
    return state, target, changes


def _apply_in_place(session: _Session, target: LiveIndex, changes: list[Change], wanted: NormalSpec) -> None:
    assert session.mapping is not None
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
    remaining = _changes(session, _target(session, after), wanted)
    if remaining:
        raise DriftError(
            f"{target.name} still differs after the in-place update: {_summary(remaining)}",
            hint="run 'ticketctl index migrate --reindex' to apply it through a new version",
        )


def _reindex_into_new_version(
    session: _Session,
    lock: IndexLock,
    state: AliasState,
    source: LiveIndex,
    wanted: NormalSpec,
    replicas: int,
    changes: list[Change],
    started: float,
) -> MigrateResult:
    assert session.mapping is not None
    connection = session.connection
    try:
        require_reindex_module(connection)
    except SearchError as error:
        raise SearchError(
            error.message,
            hint=f"{error.hint}; or copy from the events database: 'ticketctl index migrate --reindex --source "
            "database' (the default)",
        ) from error
    dest = version_name(session.alias, state.next_version)
    plan = plan_copy(source.name, dest, _version_body(session, replicas, wanted))
    swap = _swap_request(session.alias, source.name, dest)
    if connection.dry_run:
        for request in (*plan.requests, swap):
            connection.plan(request)
        return MigrateResult(
            **session.base(), action="planned", from_index=source.name, to_index=dest, changes=changes, source="index"
        )
    session.emit("step", f"creating {dest}")
    send_create(connection, plan.create, session.mapping)
    with write_blocked(connection, plan):
        documents = copy_documents(connection, plan, lock=lock, on_event=session.on_event)
        session.emit("step", f"swapping alias {session.alias}: {source.name} → {dest}")
        connection.send(swap)
    return MigrateResult(
        **session.base(),
        action="reindexed",
        from_index=source.name,
        to_index=dest,
        changes=changes,
        documents=documents,
        seconds=time.monotonic() - started,
        source="index",
    )


@dataclass(frozen=True)
class _Copy:
    """What a copy from the database needs beyond the session: the database passwords, --force, the start."""

    secrets: Mapping[str, str]
    force: bool
    started: float


def _rebuild_into_new_version(
    session: _Session,
    lock: IndexLock,
    state: AliasState,
    source: LiveIndex,
    wanted: NormalSpec,
    replicas: int,
    changes: list[Change],
    copy: _Copy,
) -> MigrateResult:
    from ticketctl.search.rebuild import rebuild_from_database

    assert session.mapping is not None
    dest = version_name(session.alias, state.next_version)
    create = Request("PUT", f"/{dest}", {"wait_for_active_shards": "1"}, _version_body(session, replicas, wanted))
    swap = _swap_request(session.alias, source.name, dest)
    if session.connection.dry_run:
        for request in (create, swap):
            session.connection.plan(request)
        return MigrateResult(
            **session.base(),
            action="planned",
            from_index=source.name,
            to_index=dest,
            changes=changes,
            source="database",
        )
    report = rebuild_from_database(
        session.connection,
        session.settings,
        copy.secrets,
        mapping=session.mapping,
        create=create,
        swap=swap,
        old_index=source.name,
        dest=dest,
        lock=lock,
        force=copy.force,
        on_event=session.on_event,
    )
    return MigrateResult(
        **session.base(),
        action="reindexed",
        from_index=source.name,
        to_index=dest,
        changes=changes,
        documents=report.check.documents,
        seconds=time.monotonic() - copy.started,
        source="database",
        copy=report.as_dict(),
    )


def _version_body(session: _Session, replicas: int, wanted: NormalSpec) -> dict[str, Any]:
    """The creation body of a new version: the file's spec, no alias yet (the swap adds it)."""
    assert session.mapping is not None
    return creation_body(
        session.mapping, shards=session.settings.search.shards, replicas=replicas, alias=None, spec_hash=wanted.digest()
    )


def _swap_request(alias: str, old: str | None, new: str) -> Request:
    actions: list[dict[str, Any]] = []
    if old is not None:
        actions.append({"remove": {"index": old, "alias": alias}})
    actions.append({"add": {"index": new, "alias": alias, "is_write_index": True}})
    return Request("POST", "/_aliases", body={"actions": actions})


def _prune_after_migrate(session: _Session, result: MigrateResult, keep: int, confirm: Confirm | None) -> MigrateResult:
    state = read_state(session.connection, session.alias)
    doomed, kept = _prune_candidates(state, keep)
    if not doomed:
        return _replace(result, kept=[index.name for index in kept])
    question = _prune_question(session, doomed)
    if confirm is None or not confirm(question):
        session.emit("warning", f"kept {', '.join(index.name for index in doomed)}: deletion not confirmed")
        return _replace(result, kept=[index.name for index in (*doomed, *kept)])
    with IndexLock(session.connection, session.alias, "prune"):
        deleted = _delete_versions(session, doomed)
    return _replace(result, pruned=deleted, kept=[index.name for index in kept])


def _replace(result: MigrateResult, **changes: Any) -> MigrateResult:
    from dataclasses import replace

    return replace(result, **changes)


# --------------------------------------------------------------------------- rollback


def rollback(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    *,
    to: int | str | None = None,
    confirm: Confirm | None = None,
    dry_run: bool = False,
    on_event: OnEvent | None = None,
    connection: SearchConnection | None = None,
) -> RollbackResult:
    """Point the alias back at an earlier version (default: the newest one older than the current).

    The swap is one ``_aliases`` call. If the current version holds documents
    the target lacks (written since the migration), ``confirm`` must agree:
    they stay in the current version, which is kept.
    """
    with _session(
        settings,
        secrets,
        mapping_path=None,
        need_mapping=False,
        dry_run=dry_run,
        on_event=on_event,
        connection=connection,
    ) as session:
        state = read_state(session.connection, session.alias)
        current = _target(session, state) if state.exists else None
        target = _rollback_target(state, current, to)
        from_docs = count_documents(session.connection, current.name) if current else None
        to_docs = count_documents(session.connection, target.name)
        if from_docs is not None and current is not None and from_docs > to_docs and not dry_run:
            question = (
                f"{current.name} holds {from_docs} documents, {target.name} {to_docs}: the "
                f"{from_docs - to_docs} newer ones stay only in {current.name}. Point {session.alias} at {target.name}?"
            )
            if confirm is None or not confirm(question):
                raise AbortedError(
                    f"rollback of {session.alias} aborted: nothing changed",
                    hint="pass --yes to roll back anyway; the newer documents stay in " + current.name,
                )
        with IndexLock(session.connection, session.alias, "rollback"):
            if not dry_run:
                _unchanged_since_read(session, current, target)
            if target.write_blocked:
                session.connection.send(
                    Request("PUT", f"/{target.name}/_settings", body={"index": {"blocks.write": None}})
                )
            session.emit("step", f"pointing {session.alias} at {target.name}")
            session.connection.send(_swap_request(session.alias, current.name if current else None, target.name))
        return session.final(
            RollbackResult(
                **session.base(),
                from_index=current.name if current else None,
                to_index=target.name,
                from_docs=from_docs,
                to_docs=to_docs,
            )
        )


def _unchanged_since_read(session: _Session, current: LiveIndex | None, target: LiveIndex) -> None:
    """Refuse to act on a state another process changed between our read and our lock."""
    state = read_state(session.connection, session.alias)
    now = _target(session, state) if state.exists else None
    fresh = state.find(target.name)
    if (now.name if now else None) != (current.name if current else None) or fresh is None or fresh.aliases:
        raise SearchError(
            f"{session.alias} changed while this command ran (now → {now.name if now else 'nothing'})",
            hint="check 'ticketctl index status' and run the command again",
        )


def _rollback_target(state: AliasState, current: LiveIndex | None, to: int | str | None) -> LiveIndex:
    if to is not None:
        wanted = state.version(to) if isinstance(to, int) else state.find(to) or _by_number(state, to)
        if wanted is None:
            raise MissingIndexError(
                f"{to}: no such version of {state.alias}",
                hint="'ticketctl index status' lists the versions",
            )
        if current is not None and wanted.name == current.name:
            raise MissingIndexError(
                f"{state.alias} already points to {wanted.name}", hint="choose another version with --to"
            )
        if wanted.aliases and state.alias not in wanted.aliases:
            raise SearchError(
                f"{wanted.name} carries other aliases ({', '.join(wanted.aliases)})",
                hint="remove them first; ticketctl only points its own alias at unaliased versions",
            )
        return wanted
    older = [
        index for index in state.unaliased_versions if current is None or (index.version or 0) < (current.version or 0)
    ]
    if not older:
        raise MissingIndexError(
            f"no earlier version of {state.alias} to roll back to",
            hint="'ticketctl index status' lists the versions; pass --to to choose one",
        )
    return older[-1]


def _by_number(state: AliasState, text: str) -> LiveIndex | None:
    digits = text.removeprefix("v")
    return state.version(int(digits)) if digits.isdigit() else None


# --------------------------------------------------------------------------- prune


def prune(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    *,
    keep: int = 1,
    confirm: Confirm | None = None,
    dry_run: bool = False,
    on_event: OnEvent | None = None,
    connection: SearchConnection | None = None,
) -> PruneResult:
    """Delete unaliased versions except the newest ``keep``; never the alias's index. Needs ``confirm``."""
    if keep < 0:
        raise ConfigError(f"--keep: must be 0 or more, got {keep}")
    with _session(
        settings,
        secrets,
        mapping_path=None,
        need_mapping=False,
        dry_run=dry_run,
        on_event=on_event,
        connection=connection,
    ) as session:
        state = read_state(session.connection, session.alias)
        doomed, kept = _prune_candidates(state, keep)
        base_kept = [index.name for index in kept]
        if not doomed:
            return PruneResult(**session.base(), kept=base_kept)
        if dry_run:
            for index in doomed:
                session.connection.send(Request("DELETE", f"/{index.name}"))
            return PruneResult(**session.base(), deleted=[index.name for index in doomed], kept=base_kept)
        if confirm is None or not confirm(_prune_question(session, doomed)):
            raise AbortedError(
                f"prune of {session.alias} aborted: nothing deleted", hint="pass --yes to delete without asking"
            )
        with IndexLock(session.connection, session.alias, "prune"):
            fresh, _ = _prune_candidates(read_state(session.connection, session.alias), keep)
            still = [index for index in doomed if index.name in {item.name for item in fresh}]
            deleted = _delete_versions(session, still)
        documents = sum(index.docs or 0 for index in doomed if index.name in deleted)
        return session.final(
            PruneResult(**session.base(), deleted=deleted, kept=base_kept, documents_deleted=documents)
        )


def _prune_candidates(state: AliasState, keep: int) -> tuple[list[LiveIndex], list[LiveIndex]]:
    """(to delete, to keep) among unaliased versions, newest kept; aliased ones are never candidates."""
    unaliased = [index for index in state.unaliased_versions if state.alias not in index.aliases]
    kept = unaliased[len(unaliased) - keep :] if keep else []
    doomed = unaliased[: len(unaliased) - keep] if keep else unaliased
    return doomed, kept


def _prune_question(session: _Session, doomed: list[LiveIndex]) -> str:
    names = ", ".join(f"{index.name} ({index.docs if index.docs is not None else '?'} documents)" for index in doomed)
    return f"Delete {names}? This cannot be undone; {session.alias} keeps pointing where it does."


def _delete_versions(session: _Session, doomed: list[LiveIndex]) -> list[str]:
    deleted = []
    for index in doomed:
        session.emit("step", f"deleting {index.name}")
        session.connection.send(Request("DELETE", f"/{index.name}"))
        deleted.append(index.name)
    return deleted


# --------------------------------------------------------------------------- adopt


def adopt(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    *,
    mapping_path: Path | None = None,
    confirm: Confirm | None = None,
    dry_run: bool = False,
    on_event: OnEvent | None = None,
    connection: SearchConnection | None = None,
) -> MigrateResult:
    """Replace a concrete index named like the alias (e.g. made by the seed's curl) by ``<alias>_v1`` + the alias.

    Its documents are copied into the new version with the file's spec and
    counted; then one ``_aliases`` call adds the alias and removes the old
    index (``remove_index``), so readers never see neither. Needs ``confirm``.
    """
    started = time.monotonic()
    with _session(
        settings,
        secrets,
        mapping_path=mapping_path,
        need_mapping=True,
        dry_run=dry_run,
        on_event=on_event,
        connection=connection,
    ) as session:
        assert session.mapping is not None
        health = _wait_for_yellow(session)
        wanted, replicas = _desired(session, health)
        state = read_state(session.connection, session.alias)
        old = state.conflicting_index
        if old is None:
            raise MissingIndexError(
                f"no concrete index named {session.alias} to adopt",
                hint="'ticketctl index status' shows what exists; 'ticketctl index create' makes a new one",
            )
        require_reindex_module(session.connection)
        dest = version_name(session.alias, state.next_version)
        body = creation_body(
            session.mapping, shards=settings.search.shards, replicas=replicas, alias=None, spec_hash=wanted.digest()
        )
        plan = plan_copy(old.name, dest, body)
        swap = Request(
            "POST",
            "/_aliases",
            body={
                "actions": [
                    {"add": {"index": dest, "alias": session.alias, "is_write_index": True}},
                    {"remove_index": {"index": old.name}},
                ]
            },
        )
        if dry_run:
            for request in (*plan.requests, swap):
                session.connection.plan(request)
            return MigrateResult(**session.base(), action="planned", from_index=old.name, to_index=dest)
        question = (
            f"Copy the {old.docs if old.docs is not None else '?'} documents of index {old.name} into {dest}, then "
            f"delete {old.name} and make {session.alias} an alias of {dest}?"
        )
        if confirm is None or not confirm(question):
            raise AbortedError(
                f"adopt of {old.name} aborted: nothing changed", hint="pass --yes to adopt without asking"
            )
        with IndexLock(session.connection, session.alias, "adopt") as lock:
            send_create(session.connection, plan.create, session.mapping)
            with write_blocked(session.connection, plan):
                documents = copy_documents(session.connection, plan, lock=lock, on_event=session.on_event)
                session.connection.send(swap)
        return session.final(
            MigrateResult(
                **session.base(),
                action="adopted",
                from_index=old.name,
                to_index=dest,
                documents=documents,
                seconds=time.monotonic() - started,
            )
        )

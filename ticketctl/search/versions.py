"""The versions behind the alias: ``rollback`` points it back, ``prune`` deletes the old ones.

Nothing here deletes the index the alias points to, and nothing deletes a
version holding documents without ``confirm``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Unpack

from ticketctl.clients.search import Request
from ticketctl.config.settings import Settings
from ticketctl.errors import AbortedError, ConfigError, MissingError, SearchError
from ticketctl.search.lock import IndexLock
from ticketctl.search.results import Confirm, MigrateResult, PruneResult, RollbackResult
from ticketctl.search.session import IndexSession, SessionOptions, index_session, target_of
from ticketctl.search.state import AliasState, LiveIndex, count_documents, read_state


def rollback(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    *,
    to: int | str | None = None,
    confirm: Confirm | None = None,
    **options: Unpack[SessionOptions],
) -> RollbackResult:
    """Point the alias back at an earlier version (default: the newest one older than the current).

    The swap is one ``_aliases`` call. If the current version holds documents
    the target lacks (written since the migration), ``confirm`` must agree:
    they stay in the current version, which is kept.
    """
    with index_session(settings, secrets, **options) as session:
        state = read_state(session.connection, session.alias)
        current = target_of(state) if state.exists else None
        target = _rollback_target(state, current, to)
        from_docs = count_documents(session.connection, current.name) if current else None
        to_docs = count_documents(session.connection, target.name)
        if from_docs is not None and current is not None and from_docs > to_docs and not session.connection.dry_run:
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
            if not session.connection.dry_run:
                _unchanged_since_read(session, current, target)
            if target.write_blocked:
                session.connection.send(
                    Request("PUT", f"/{target.name}/_settings", body={"index": {"blocks.write": None}})
                )
            session.emit("step", f"pointing {session.alias} at {target.name}")
            session.connection.send(swap_request(session.alias, current.name if current else None, target.name))
        return session.final(
            RollbackResult(
                **session.base(),
                from_index=current.name if current else None,
                to_index=target.name,
                from_docs=from_docs,
                to_docs=to_docs,
            )
        )


def _unchanged_since_read(session: IndexSession, current: LiveIndex | None, target: LiveIndex) -> None:
    """Refuse to act on a state another process changed between our read and our lock."""
    state = read_state(session.connection, session.alias)
    now = target_of(state) if state.exists else None
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
            raise MissingError(
                f"{to}: no such version of {state.alias}",
                hint="'ticketctl index status' lists the versions",
            )
        if current is not None and wanted.name == current.name:
            raise MissingError(
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
        raise MissingError(
            f"no earlier version of {state.alias} to roll back to",
            hint="'ticketctl index status' lists the versions; pass --to to choose one",
        )
    return older[-1]


def _by_number(state: AliasState, text: str) -> LiveIndex | None:
    digits = text.removeprefix("v")
    return state.version(int(digits)) if digits.isdigit() else None


def prune(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    *,
    keep: int = 1,
    confirm: Confirm | None = None,
    **options: Unpack[SessionOptions],
) -> PruneResult:
    """Delete unaliased versions except the newest ``keep``; never the alias's index. Needs ``confirm``."""
    if keep < 0:
        raise ConfigError(f"--keep: must be 0 or more, got {keep}")
    with index_session(settings, secrets, **options) as session:
        state = read_state(session.connection, session.alias)
        doomed, kept = _prune_candidates(state, keep)
        base_kept = [index.name for index in kept]
        if not doomed:
            return PruneResult(**session.base(), kept=base_kept)
        if session.connection.dry_run:
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


def _prune_question(session: IndexSession, doomed: list[LiveIndex]) -> str:
    names = ", ".join(f"{index.name} ({index.docs if index.docs is not None else '?'} documents)" for index in doomed)
    return f"Delete {names}? This cannot be undone; {session.alias} keeps pointing where it does."


def _delete_versions(session: IndexSession, doomed: list[LiveIndex]) -> list[str]:
    deleted = []
    for index in doomed:
        session.emit("step", f"deleting {index.name}")
        session.connection.send(Request("DELETE", f"/{index.name}"))
        deleted.append(index.name)
    return deleted


def swap_request(alias: str, old: str | None, new: str) -> Request:
    """One ``_aliases`` request that moves ``alias`` (the write index) from ``old`` to ``new``."""
    actions: list[dict[str, Any]] = []
    if old is not None:
        actions.append({"remove": {"index": old, "alias": alias}})
    actions.append({"add": {"index": new, "alias": alias, "is_write_index": True}})
    return Request("POST", "/_aliases", body={"actions": actions})


def prune_after_migrate(
    session: IndexSession, result: MigrateResult, keep: int, confirm: Confirm | None
) -> MigrateResult:
    """``migrate --keep N``: after a reindex, delete unaliased versions beyond the newest N, once confirmed."""
    state = read_state(session.connection, session.alias)
    doomed, kept = _prune_candidates(state, keep)
    if not doomed:
        return replace(result, kept=[index.name for index in kept])
    question = _prune_question(session, doomed)
    if confirm is None or not confirm(question):
        session.emit("warning", f"kept {', '.join(index.name for index in doomed)}: deletion not confirmed")
        return replace(result, kept=[index.name for index in (*doomed, *kept)])
    with IndexLock(session.connection, session.alias, "prune"):
        deleted = _delete_versions(session, doomed)
    return replace(result, pruned=deleted, kept=[index.name for index in kept])

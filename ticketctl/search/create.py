"""The first version of the index: ``create`` (an empty ``<alias>_v1``) and ``adopt`` (a concrete index taken in).

Versions are concrete indices ``<alias>_v<N>``; the alias (``search.index``,
default ``events``) points to exactly one of them, as the write index.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal, Unpack

from ticketctl.clients.search import Request, SearchRequestError
from ticketctl.config.settings import Settings
from ticketctl.errors import AbortedError, DriftError, MissingError
from ticketctl.search.lock import IndexLock
from ticketctl.search.reindex import copy_and_swap, plan_copy, plan_copy_and_swap, require_reindex_module, send_create
from ticketctl.search.results import Confirm, IndexResult, MigrateResult
from ticketctl.search.session import (
    MappedOptions,
    MappedSession,
    mapped_session,
    refuse_orphans,
    summary,
    target_of,
    wait_for_yellow,
)
from ticketctl.search.spec import NormalSpec, creation_body
from ticketctl.search.state import read_state, version_name


def create_index(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    **options: Unpack[MappedOptions],
) -> IndexResult:
    """Create ``<alias>_v1`` with the file's spec and the alias as its write index, in one request.

    Up to date (the same spec is live) → nothing is sent. A different live spec →
    :class:`DriftError` pointing to ``diff``/``migrate``. A concrete index named
    like the alias → refused, pointing to ``adopt``.
    """
    started = time.monotonic()
    with mapped_session(settings, secrets, **options) as session:
        health = wait_for_yellow(session)
        wanted, replicas = session.desired(health)
        digest = wanted.digest()
        state = read_state(session.connection, session.alias)
        common: dict[str, Any] = {"spec_hash": digest, "replicas": replicas, "shards": settings.search.shards}
        if state.exists:
            target = target_of(state)
            changes = session.changes(target, wanted)
            if changes:
                raise DriftError(
                    f"{session.alias} → {target.name} differs from {session.mapping.display}: {summary(changes)}",
                    hint="see 'ticketctl index diff'; apply it with 'ticketctl index migrate' "
                    "(plus --reindex when a change needs it)",
                )
            return IndexResult(
                **session.base(), status="up_to_date", index=target.name, seconds=time.monotonic() - started, **common
            )
        refuse_orphans(state)
        name = version_name(session.alias, state.next_version)
        body = creation_body(
            session.mapping, shards=settings.search.shards, replicas=replicas, alias=session.alias, spec=wanted
        )
        session.emit("step", f"creating {name} with alias {session.alias}")
        request = Request("PUT", f"/{name}", {"wait_for_active_shards": "1"}, body)
        try:
            send_create(session.connection, request, session.mapping)
        except SearchRequestError as error:
            if error.error_type != "resource_already_exists_exception":
                raise
            return _created_concurrently(session, wanted, common, started)
        status: Literal["planned", "created"] = "planned" if session.connection.dry_run else "created"
        return IndexResult(**session.base(), status=status, index=name, seconds=time.monotonic() - started, **common)


def _created_concurrently(
    session: MappedSession, wanted: NormalSpec, common: dict[str, Any], started: float
) -> IndexResult:
    """Another process created the first version between our read and our write: accept it if it matches."""
    state = read_state(session.connection, session.alias)
    target = target_of(state) if state.exists else None
    if target is None or session.changes(target, wanted):
        raise DriftError(
            f"another process created {session.alias} concurrently with a different spec",
            hint="see 'ticketctl index diff'",
        )
    return IndexResult(
        **session.base(), status="up_to_date", index=target.name, seconds=time.monotonic() - started, **common
    )


def adopt(
    settings: Settings,
    secrets: Mapping[str, str] | None = None,
    *,
    confirm: Confirm | None = None,
    **options: Unpack[MappedOptions],
) -> MigrateResult:
    """Replace a concrete index named like the alias (one made by hand with curl) by ``<alias>_v1`` + the alias.

    Its documents are copied into the new version with the file's spec and
    counted; then one ``_aliases`` call adds the alias and removes the old
    index (``remove_index``), so readers never see neither. Needs ``confirm``.
    """
    started = time.monotonic()
    with mapped_session(settings, secrets, **options) as session:
        health = wait_for_yellow(session)
        wanted, replicas = session.desired(health)
        state = read_state(session.connection, session.alias)
        old = state.conflicting_index
        if old is None:
            raise MissingError(
                f"no concrete index named {session.alias} to adopt",
                hint="'ticketctl index status' shows what exists; 'ticketctl index create' makes a new one",
            )
        require_reindex_module(session.connection)
        dest = version_name(session.alias, state.next_version)
        body = creation_body(session.mapping, shards=settings.search.shards, replicas=replicas, alias=None, spec=wanted)
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
        if session.connection.dry_run:
            plan_copy_and_swap(session.connection, plan, swap)
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
            documents = copy_and_swap(
                session.connection, plan, swap, session.mapping, lock=lock, on_event=session.on_event
            )
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

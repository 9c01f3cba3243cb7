"""Copying every document of one index into a new version, without losing one.

The source is write-blocked (``index.blocks.write``) before the copy starts,
so a document written during the copy is refused loudly (the writer gets a
403 and retries later) instead of landing in the source after it was read and
silently missing from the new version. The copy runs as a ``_reindex`` task;
its progress is polled and reported; the result must show no failures and the
new version must hold exactly as many documents as the source. Only then may
the caller swap the alias. If anything fails, the source is unblocked again
and the alias is left where it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from ticketctl.clients.search import Request, SearchConnection, SearchRequestError
from ticketctl.errors import SearchError
from ticketctl.events import EventSink, ignore
from ticketctl.search.components import REINDEX, find_missing_component, loaded_modules
from ticketctl.search.lock import IndexLock
from ticketctl.search.results import IndexEvent
from ticketctl.search.spec import MappingFile, flatten_settings
from ticketctl.search.state import count_documents

LOCK_REFRESH_SECONDS = 30.0


@dataclass(frozen=True)
class CopyPlan:
    """The requests that copy ``source`` into the new index ``dest``, in the order they are sent."""

    source: str
    dest: str
    create: Request
    block: Request
    refresh_source: Request
    start: Request
    refresh_dest: Request
    unblock: Request

    @property
    def requests(self) -> list[Request]:
        return [self.create, self.block, self.refresh_source, self.start, self.refresh_dest]


def plan_copy(source: str, dest: str, create_body: dict[str, Any]) -> CopyPlan:
    return CopyPlan(
        source=source,
        dest=dest,
        create=Request("PUT", f"/{dest}", {"wait_for_active_shards": "1"}, create_body),
        block=Request("PUT", f"/{source}/_settings", body={"index": {"blocks.write": True}}),
        refresh_source=Request("POST", f"/{source}/_refresh", write=False),
        start=Request(
            "POST",
            "/_reindex",
            {"wait_for_completion": "false", "refresh": "false"},
            {"source": {"index": source}, "dest": {"index": dest}},
            idempotent=False,
        ),
        refresh_dest=Request("POST", f"/{dest}/_refresh", write=False),
        unblock=Request("PUT", f"/{source}/_settings", body={"index": {"blocks.write": None}}),
    )


def require_reindex_module(connection: SearchConnection) -> None:
    """Refuse before any write when the server has no reindex module."""
    answer = connection.send(
        Request("GET", "/_nodes/plugins", {"filter_path": "nodes.*.modules.name,nodes.*.plugins.name"})
    )
    if REINDEX not in loaded_modules(answer):
        info = connection.info
        raise SearchError(
            f"{info.label} at {info.url} lacks the {REINDEX} module (the _reindex API), so it cannot copy "
            "documents into a new version",
            hint="use a full distribution (the official Docker image ships the reindex module); minimal builds such "
            "as Elasticsearch's integ-test-zip leave it out",
        )


def send_create(connection: SearchConnection, request: Request, mapping_file: MappingFile) -> None:
    """Create an index, turning a missing analysis component into a one-line error naming its module."""
    try:
        connection.send(request)
    except SearchRequestError as error:
        raise component_error(connection, error, mapping_file) from error


def component_error(connection: SearchConnection, error: SearchRequestError, mapping_file: MappingFile) -> SearchError:
    """The clearer error for a server that lacks a module, else the original error."""
    missing = find_missing_component(error.body, error.reason)
    if missing is None:
        return error
    info = connection.info
    return SearchError(
        f"{info.label} at {info.url} {missing.describe()}, used by {component_user(mapping_file, missing.name)}",
        hint=missing.hint(),
    )


def component_user(mapping_file: MappingFile, name: str) -> str:
    """Which analyzer of the file uses a component, with its ``file:line``."""
    analysis = flatten_settings(mapping_file.settings)
    for key, value in analysis.items():
        parts = key.split(".")
        if len(parts) == 4 and parts[0] == "analysis" and parts[1] == "analyzer":
            items = value if isinstance(value, list) else [value]
            if name in items:
                return f"analyzer '{parts[2]}' ({mapping_file.where(*_raw_path(mapping_file, parts[2]))})"
    return mapping_file.display


def _raw_path(mapping_file: MappingFile, analyzer: str) -> tuple[str, ...]:
    settings = mapping_file.settings
    if "analysis" in settings:
        return ("settings", "analysis", "analyzer", analyzer)
    return ("settings", "index", "analysis", "analyzer", analyzer)


@contextmanager
def write_blocked(connection: SearchConnection, plan: CopyPlan) -> Iterator[None]:
    """Block writes to the source for the copy; unblock it again if anything inside fails."""
    connection.send(plan.block)
    try:
        yield
    except BaseException:
        with suppress(SearchError):  # the original error matters more; status shows the block
            connection.send(plan.unblock)
        raise


def copy_documents(
    connection: SearchConnection,
    plan: CopyPlan,
    *,
    lock: IndexLock,
    on_event: EventSink | None = None,
    poll_interval: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run the reindex task (source already blocked) and verify the count; returns the documents copied."""
    emit = on_event or ignore
    connection.send(plan.refresh_source)
    expected = count_documents(connection, plan.source)
    emit(IndexEvent("step", f"copying {expected} documents from {plan.source} to {plan.dest}"))
    try:
        started = connection.send(plan.start)
    except SearchRequestError as error:
        missing = find_missing_component(error.body, error.reason)
        if missing is not None:
            raise SearchError(
                f"{connection.info.label} at {connection.info.url} {missing.describe()}", hint=missing.hint()
            ) from error
        raise
    task_id = str(started["task"])
    try:
        response = _wait_for_task(connection, task_id, expected, lock, emit, poll_interval, sleep)
    except BaseException:
        _cancel(connection, task_id)
        raise
    _check_task_response(connection, plan, response)
    connection.send(plan.refresh_dest)
    copied = count_documents(connection, plan.dest)
    if copied != expected:
        raise SearchError(
            f"{plan.dest} holds {copied} documents after the copy, {plan.source} holds {expected}; the alias was not "
            "moved",
            hint=f"inspect {plan.dest}, then remove it with 'ticketctl index prune' and run the migration again",
        )
    emit(IndexEvent("progress", f"copied {copied} documents", done=copied, total=expected))
    return copied


def copy_and_swap(
    connection: SearchConnection,
    plan: CopyPlan,
    swap: Request,
    mapping_file: MappingFile,
    *,
    lock: IndexLock,
    on_event: EventSink | None,
    alias: str | None = None,
) -> int:
    """Create the new version, copy every document into it with the source write-blocked, then send ``swap``.

    The swap (one ``_aliases`` request) is sent only once the copy is counted
    complete, while the source is still blocked. With ``alias``, the steps are
    announced as events. Returns the documents copied.
    """
    emit = on_event or ignore
    if alias is not None:
        emit(IndexEvent("step", f"creating {plan.dest}"))
    send_create(connection, plan.create, mapping_file)
    with write_blocked(connection, plan):
        documents = copy_documents(connection, plan, lock=lock, on_event=on_event)
        if alias is not None:
            emit(IndexEvent("step", f"swapping alias {alias}: {plan.source} → {plan.dest}"))
        connection.send(swap)
    return documents


def plan_copy_and_swap(connection: SearchConnection, plan: CopyPlan, swap: Request) -> None:
    """Record what :func:`copy_and_swap` would send (a dry run)."""
    for request in (*plan.requests, swap):
        connection.plan(request)


def _wait_for_task(
    connection: SearchConnection,
    task_id: str,
    expected: int,
    lock: IndexLock,
    emit: EventSink,
    poll_interval: float,
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    last_refresh = time.monotonic()
    polls = 0
    while True:
        answer = connection.send(Request("GET", f"/_tasks/{task_id}"))
        status = (answer.get("task") or {}).get("status") or {}
        done = sum(int(status.get(key) or 0) for key in ("created", "updated", "deleted"))
        total = int(status.get("total") or expected)
        emit(IndexEvent("progress", "reindex", done=done, total=total))
        if answer.get("completed"):
            if answer.get("error"):
                reason = answer["error"].get("reason") if isinstance(answer["error"], dict) else answer["error"]
                raise SearchError(f"reindex task {task_id} failed: {reason}", hint="the alias was not moved")
            return dict(answer.get("response") or {})
        if time.monotonic() - last_refresh > LOCK_REFRESH_SECONDS:
            lock.refresh()
            last_refresh = time.monotonic()
        sleep(min(poll_interval, 0.05 * 2**polls))  # a small index is done in tens of milliseconds
        polls += 1


def _cancel(connection: SearchConnection, task_id: str) -> None:
    with suppress(SearchError):
        connection.send(Request("POST", f"/_tasks/{task_id}/_cancel"))


def _check_task_response(connection: SearchConnection, plan: CopyPlan, response: dict[str, Any]) -> None:
    failures = response.get("failures") or []
    if failures:
        first = failures[0] if isinstance(failures[0], dict) else {}
        cause = first.get("cause") or {}
        reason = cause.get("reason") if isinstance(cause, dict) else str(cause)
        raise SearchError(
            f"reindex {plan.source} → {plan.dest}: {len(failures)} document(s) failed, first "
            f"{first.get('id', '?')}: {reason}",
            hint="the alias was not moved; fix the mapping so every stored document fits it, then run the migration "
            "again",
        )
    if response.get("timed_out"):
        raise SearchError(f"reindex {plan.source} → {plan.dest} timed out", hint="the alias was not moved; run again")

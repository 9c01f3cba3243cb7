"""``index sync``: the events database into the search index, in full or from the outbox.

Three paths share one projection (:data:`ticketctl.data.projection.DOCUMENT`) and one
writer (:class:`~ticketctl.search.bulk.BulkWriter`, external versions):

* :func:`sync_outbox` applies unprocessed outbox rows in id order and marks them
  processed — the indexer's job, safe to run in several processes at once;
* :func:`sync_full` copies every event into the index behind the alias;
* :func:`copy_database` is the copy itself, also used by ``index migrate`` to fill a
  new version: it notes the outbox position, copies a consistent snapshot at that
  position, catches up with every row written since, and checks the result while the
  outbox is held still. ``docs/data.md`` gives the argument why no write is lost.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from ticketctl.clients.search import Request, SearchConnection, ServerInfo, connect
from ticketctl.data import outbox
from ticketctl.data.outbox import OutboxRow, Unusable
from ticketctl.data.projection import (
    DOCUMENT_FIELDS,
    EVENT_COLUMNS,
    PRICING_COLUMNS,
    Document,
    count_events,
    id_bounds,
    read_by_ids,
    read_range,
)
from ticketctl.data.schema import require_columns
from ticketctl.errors import DriftError, MissingError, SearchError, TicketctlError
from ticketctl.events import EventSink, ignore
from ticketctl.parallel import Worker
from ticketctl.search.bulk import Action, BulkCounts, BulkWriter, WriteBlockedError, encode
from ticketctl.search.results import IndexEvent
from ticketctl.search.session import target_of
from ticketctl.search.state import LiveIndex, count_documents, read_state

if TYPE_CHECKING:
    from ticketctl.clients.mysql import Session
    from ticketctl.config.settings import Settings

COPY_CHUNK = 5_000  # events per bulk request of a copy (about 2.5 MB)
# Bulk requests of a copy in flight at once: while the server indexes one chunk, the next one travels
# and is parsed; more only queue on a small cluster (the write thread pool is one per core).
BULK_CONCURRENCY = 2
COPY_READERS = 2  # sessions that read the snapshot, each its part of the events: the server builds documents in both
OUTBOX_BATCH = 500  # outbox rows per transaction of the incremental sync
CATCH_UP_BATCH = 1_000
CATCH_UP_PASSES = 5  # passes before the final one under the freeze; each is shorter than the last
CHECK_SAMPLE = 500  # copied events compared field by field, besides every event the catch-up touched
CHECK_TOUCHED_MAX = 5_000
DEFERRED_PATIENCE = 30.0  # seconds a run without --follow waits for rows another sync holds
SCROLL_PAGE = 5_000
SOURCE_TABLES: Mapping[str, Sequence[str]] = {
    "events": EVENT_COLUMNS,
    "event_pricing_rules": PRICING_COLUMNS,
    "outbox_events": ("id", "aggregate_id", "aggregate_type", "event_type", "payload", "processed"),
}


class SyncMismatchError(DriftError):
    """The index does not hold what the database says after a copy: counts or documents differ."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ContentCheck:
    """The index compared with the database while the outbox was held still."""

    events: int
    documents: int
    sampled: int
    missing: list[int] = field(default_factory=list)  # events without a document
    stale: list[int] = field(default_factory=list)  # documents that differ from the projection
    extra: list[int] = field(default_factory=list)  # documents of events that do not exist

    @property
    def ok(self) -> bool:
        return self.events == self.documents and not (self.missing or self.stale or self.extra)

    def describe(self) -> str:
        parts = [] if self.events == self.documents else [f"{self.documents} documents for {self.events} events"]
        for name, ids in (("missing", self.missing), ("stale", self.stale), ("extra", self.extra)):
            if ids:
                parts.append(f"{len(ids)} {name} of {self.sampled} compared (events {_ids(ids)})")
        return "; ".join(parts) or f"{self.documents} documents, {self.sampled} compared field by field: all equal"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "documents": self.documents,
            "sampled": self.sampled,
            "missing": self.missing,
            "stale": self.stale,
            "extra": self.extra,
        }


def _ids(ids: Sequence[int], limit: int = 5) -> str:
    text = ", ".join(str(value) for value in ids[:limit])
    return text + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


@dataclass(frozen=True)
class CopyReport:
    """What :func:`copy_database` did to ``index``."""

    index: str
    position: int  # the outbox position the snapshot was taken at
    final_position: int  # the outbox position of the last catch-up, under the freeze
    events: int  # events in the snapshot
    copied: BulkCounts
    pruned: BulkCounts
    caught_up: int  # outbox rows applied after the snapshot
    catch_up: BulkCounts
    unusable: list[Unusable]
    check: ContentCheck
    seconds: float
    copy_seconds: float

    @property
    def docs_per_second(self) -> float:
        return self.events / self.copy_seconds if self.copy_seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "outbox_position": self.position,
            "final_outbox_position": self.final_position,
            "events": self.events,
            "copied": self.copied.as_dict(),
            "pruned": self.pruned.as_dict(),
            "caught_up_rows": self.caught_up,
            "catch_up": self.catch_up.as_dict(),
            "skipped_rows": [item.as_dict() for item in self.unusable],
            "check": self.check.as_dict(),
            "seconds": round(self.seconds, 3),
            "copy_seconds": round(self.copy_seconds, 3),
            "docs_per_second": round(self.docs_per_second, 1),
        }


@dataclass(frozen=True)
class FullSyncResult:
    alias: str
    target: str  # the index behind the alias
    server: ServerInfo
    copy: CopyReport
    marked_processed: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": "full",
            "server": self.server.as_dict(),
            **self.copy.as_dict(),
            "alias": self.alias,
            "index": self.target,
            "marked_processed": self.marked_processed,
        }


@dataclass
class OutboxSyncResult:
    """What an incremental sync applied; ``skipped`` rows stay unprocessed."""

    alias: str
    index: str
    server: ServerInfo
    rows: int = 0
    batches: int = 0
    counts: BulkCounts = field(default_factory=BulkCounts)
    skipped: list[Unusable] = field(default_factory=list)
    deferred: int = 0  # rows left to the sync that holds an earlier row of their event
    concurrency: str = "skip-locked"
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": "outbox",
            "alias": self.alias,
            "index": self.index,
            "server": self.server.as_dict(),
            "rows": self.rows,
            "batches": self.batches,
            **self.counts.as_dict(),
            "skipped_rows": [item.as_dict() for item in self.skipped],
            "deferred_rows": self.deferred,
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows / self.seconds, 1) if self.seconds > 0 else 0.0,
        }


# --------------------------------------------------------------------------- shared plumbing


def open_events_database(
    settings: Settings, secrets: Mapping[str, str], *, autocommit: bool = True, isolation: str = "READ COMMITTED"
) -> Session:
    """A session on the events database as its application user, with the isolation the caller needs."""
    from ticketctl.clients.mysql import app_credentials
    from ticketctl.clients.mysql import connect as connect_mysql

    database = settings.mysql.database("events")
    session = connect_mysql(
        settings.mysql, app_credentials(database, secrets), database=database.name, autocommit=autocommit
    )
    session.execute(f"SET SESSION TRANSACTION ISOLATION LEVEL {isolation}")
    return session


def check_database(session: Session, settings: Settings) -> None:
    require_columns(session, settings.mysql.database("events").name, SOURCE_TABLES)


def check_target(connection: SearchConnection, alias: str) -> LiveIndex:
    """The write index behind ``alias``; refuses a missing alias and a mapping without a projected field."""
    state = read_state(connection, alias)
    info = connection.info
    if not state.exists:
        raise MissingError(
            f"alias {alias} does not exist on {info.label} at {info.url}",
            hint=f"create it with 'ticketctl index create --index {alias}'",
        )
    target = target_of(state)
    require_mapped_fields(target, alias, DriftError)
    return target


def require_mapped_fields(index: LiveIndex, alias: str, error: type[TicketctlError]) -> None:
    properties = index.mappings.get("properties") or {}
    missing = [name for name in DOCUMENT_FIELDS if name not in properties]
    if missing:
        raise error(
            f"{index.name} (alias {alias}) maps no field {', '.join(repr(name) for name in missing)}, which every "
            "document has: the server would guess its type",
            hint="compare the index with the mapping file ('ticketctl index diff') and apply it "
            "('ticketctl index migrate')",
        )


def _emit(on_event: EventSink | None) -> EventSink:
    return on_event or ignore


def _actions(rows: Sequence[OutboxRow], documents: Mapping[int, Document]) -> list[Action]:
    """One action per event: its document (or its deletion) at the version of its last row here."""
    latest: dict[int, int] = {}
    for row in rows:
        latest[row.aggregate_id] = max(row.id, latest.get(row.aggregate_id, 0))
    return [
        Action(event_id, version, documents[event_id].source if event_id in documents else None)
        for event_id, version in sorted(latest.items())
    ]


def _split_usable(rows: Sequence[OutboxRow]) -> tuple[list[OutboxRow], list[Unusable]]:
    usable: list[OutboxRow] = []
    unusable: list[Unusable] = []
    for row in rows:
        reason = outbox.unusable_reason(row)
        if reason is None:
            usable.append(row)
        else:
            unusable.append(Unusable(row, reason))
    return usable, unusable


def _warn_unusable(emit: EventSink, item: Unusable) -> None:
    emit(
        IndexEvent(
            "warning",
            f"outbox row {item.row.id} (event {item.row.aggregate_id}) skipped and left unprocessed: {item.reason} — "
            f"fix its payload, or UPDATE outbox_events SET processed = TRUE WHERE id = {item.row.id} to drop it",
        )
    )


# --------------------------------------------------------------------------- the copy


@dataclass
class _Copy:
    connection: SearchConnection
    settings: Settings
    secrets: Mapping[str, str]
    index: str
    emit: EventSink
    writer: BulkWriter = field(init=False)
    applied: set[int] = field(default_factory=set)  # outbox ids the catch-up applied
    touched: set[int] = field(default_factory=set)  # events the catch-up wrote
    unusable: dict[int, Unusable] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.writer = BulkWriter(self.connection, self.index)

    def snapshot(self, lock: Session, snapshots: Sequence[Session]) -> int:
        """Open consistent snapshots at a known outbox position (see :func:`outbox.frozen`); returns it.

        Every snapshot opened while the outbox is frozen sees the same data: no transaction
        that changes an event can commit then, since each also writes the outbox. So the
        copy can read with several sessions, each its part of the events, as one snapshot.
        """
        with outbox.frozen(lock) as position:
            for session in snapshots:
                session.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
        return position

    def copy(self, snapshots: Sequence[Session], version: int) -> tuple[int, BulkCounts, set[int]]:
        """Every event of the snapshot, at ``version``; returns the event count, the tallies and the ids."""
        total = count_events(snapshots[0])
        parts = split_ids(id_bounds(snapshots[0]), len(snapshots))
        makers = [
            partial(document_chunks, session, version, part) for session, part in zip(snapshots, parts, strict=False)
        ]
        counts = BulkCounts()
        ids: set[int] = set()
        self.emit(IndexEvent("step", f"copying {total} events into {self.index} (outbox position {version})"))
        self.emit(IndexEvent("progress", "copy", done=0, total=total))
        in_flight: deque[tuple[Future[BulkCounts], list[Action]]] = deque()

        def collect() -> None:
            future, actions = in_flight.popleft()
            counts.add(future.result())
            ids.update(action.event_id for action in actions)
            self.emit(IndexEvent("progress", "copy", done=len(ids), total=total))

        with ThreadPoolExecutor(max_workers=BULK_CONCURRENCY, thread_name_prefix="ticketctl-bulk") as pool:
            for actions, body in _prefetch(makers):
                in_flight.append((pool.submit(self.writer.write, actions, body), actions))
                if len(in_flight) >= BULK_CONCURRENCY:
                    collect()
            while in_flight:
                collect()
        for session in snapshots:
            session.commit()
        return total, counts, ids

    def prune(self, copied: set[int], version: int) -> BulkCounts:
        """Delete the documents of events that are not in the snapshot (a newer write keeps its document)."""
        extra = [doc_id for doc_id in _document_ids(self.connection, self.index) if doc_id not in copied]
        counts = BulkCounts()
        if extra:
            self.emit(IndexEvent("step", f"deleting {len(extra)} documents of events the database does not hold"))
        for start in range(0, len(extra), COPY_CHUNK):
            part = extra[start : start + COPY_CHUNK]
            counts.add(self.writer.write([Action(doc_id, version, None) for doc_id in part]))
        return counts

    def catch_up(self, reader: Session, since: int) -> tuple[int, BulkCounts]:
        """Apply every outbox row after ``since`` not applied yet, processed or not."""
        counts = BulkCounts()
        fresh = [row_id for row_id in outbox.ids_after(reader, since) if row_id not in self.applied]
        for start in range(0, len(fresh), CATCH_UP_BATCH):
            rows = outbox.rows_by_ids(reader, fresh[start : start + CATCH_UP_BATCH])
            usable, unusable = _split_usable(rows)
            for item in unusable:
                if item.row.id not in self.unusable:
                    self.unusable[item.row.id] = item
                    _warn_unusable(self.emit, item)
            sources = read_by_ids(reader, {row.aggregate_id for row in usable})
            actions = _actions(usable, sources)
            counts.add(self.writer.write(actions))
            self.touched.update(action.event_id for action in actions)
            self.applied.update(row.id for row in rows)
        return len(fresh), counts

    def check(self, reader: Session, copied: set[int]) -> ContentCheck:
        """Counts, and documents compared with the projection: every event the catch-up touched plus a sample."""
        self.connection.send(Request("POST", f"/{self.index}/_refresh", write=False))
        documents = count_documents(self.connection, self.index)
        events = count_events(reader)
        touched = sorted(self.touched)[:CHECK_TOUCHED_MAX]
        pool = sorted(copied - self.touched)
        sample = sorted({*touched, *random.sample(pool, min(CHECK_SAMPLE, len(pool)))})
        sources = read_by_ids(reader, sample)
        stored = _get_documents(self.connection, self.index, sample)
        missing = [event_id for event_id in sample if event_id in sources and event_id not in stored]
        extra = [event_id for event_id in sample if event_id not in sources and event_id in stored]
        stale = [
            event_id
            for event_id in sample
            if event_id in sources and event_id in stored and stored[event_id] != sources[event_id].parsed()
        ]
        return ContentCheck(events, documents, len(sample), missing, stale, extra)


def copy_database(
    connection: SearchConnection,
    settings: Settings,
    secrets: Mapping[str, str],
    index: str,
    *,
    prune: bool,
    at_freeze: Callable[[ContentCheck], None],
    on_event: EventSink | None = None,
) -> CopyReport:
    """Fill ``index`` from the events database without losing a write made meanwhile.

    1. Under :func:`outbox.frozen`, note the position P and open a snapshot: it holds
       exactly the changes of outbox rows up to P.
    2. Copy the snapshot, every document at version P; with ``prune``, delete the
       documents of events the snapshot lacks (at version P: a newer write survives).
    3. Catch up: apply every row after P (processed or not, since another sync may have
       applied it elsewhere), each at its own id, until a pass finds little to do.
    4. Freeze the outbox again, apply the last rows, compare index and database, and
       call ``at_freeze(check)`` — where ``index migrate`` swaps the alias — before
       writers may go on.
    """
    emit = _emit(on_event)
    started = time.monotonic()
    work = _Copy(connection, settings, secrets, index, emit)
    with ExitStack() as stack:
        lock = stack.enter_context(open_events_database(settings, secrets))
        reader = stack.enter_context(open_events_database(settings, secrets))
        snapshots = [
            stack.enter_context(open_events_database(settings, secrets, autocommit=False, isolation="REPEATABLE READ"))
            for _ in range(COPY_READERS)
        ]
        check_database(reader, settings)
        position = work.snapshot(lock, snapshots)
        # An index that held nothing before the copy has nothing to prune: what is there now was written since.
        prune = prune and count_documents(connection, index) > 0
        copy_started = time.monotonic()
        events, copied, ids = work.copy(snapshots, position)
        copy_seconds = time.monotonic() - copy_started
        pruned = work.prune(ids, position) if prune else BulkCounts()
        caught_up, catch_up = 0, BulkCounts()
        for _ in range(CATCH_UP_PASSES):
            rows, counts = work.catch_up(reader, position)
            caught_up += rows
            catch_up.add(counts)
            if rows < CATCH_UP_BATCH:
                break
        emit(IndexEvent("step", "holding the outbox still for the last rows and the check"))
        with outbox.frozen(lock) as final_position:
            rows, counts = work.catch_up(reader, position)
            caught_up += rows
            catch_up.add(counts)
            check = work.check(reader, ids)
            at_freeze(check)
    return CopyReport(
        index=index,
        position=position,
        final_position=final_position,
        events=events,
        copied=copied,
        pruned=pruned,
        caught_up=caught_up,
        catch_up=catch_up,
        unusable=list(work.unusable.values()),
        check=check,
        seconds=time.monotonic() - started,
        copy_seconds=copy_seconds,
    )


def document_chunks(
    session: Session, version: int, bounds: tuple[int, int] | None = None
) -> Iterator[tuple[list[Action], bytes]]:
    """The documents of the events with ids in ``bounds`` (inclusive; default: all), :data:`COPY_CHUNK` ids at a
    time, as bulk actions at ``version`` and their NDJSON."""
    low, high = bounds or id_bounds(session)
    after = low - 1
    while after < high:
        documents = read_range(session, after, min(after + COPY_CHUNK, high))
        after += COPY_CHUNK
        if documents:
            actions = [Action(document.event_id, version, document.source) for document in documents]
            yield actions, encode(actions)
        else:  # a gap in the ids: go on from the next event
            row = session.query_one("SELECT MIN(event_id) FROM events WHERE event_id > %s", (after,))
            if row is None or row[0] is None:
                return
            after = int(row[0]) - 1


def split_ids(bounds: tuple[int, int], parts: int) -> list[tuple[int, int]]:
    """``bounds`` (inclusive) cut into ``parts`` contiguous ranges, none empty."""
    low, high = bounds
    if high < low:
        return []
    size = max(1, -(-(high - low + 1) // parts))
    return [(start, min(start + size - 1, high)) for start in range(low, high + 1, size)]


_DONE = object()


def _prefetch(makers: Sequence[Callable[[], Iterator[Any]]], depth: int = 2) -> Iterator[Any]:
    """Iterate every ``maker()`` in a thread of its own, ``depth`` items ahead, in the order items come.

    The next chunks are read from the database while the current ones travel to the search engine.
    """
    items: queue.Queue[Any] = queue.Queue(maxsize=depth * len(makers))
    stop = threading.Event()

    def produce(make: Callable[[], Iterator[Any]]) -> None:
        try:
            for item in make():
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(_DONE)
        except BaseException as error:  # handed to the consumer, which raises it
            items.put(error)

    threads = [Worker(produce, make, name=f"ticketctl-sync-reader-{number}") for number, make in enumerate(makers)]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            item = items.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.ended.wait(timeout=5)


def _document_ids(connection: SearchConnection, index: str) -> Iterator[int]:
    """Every numeric ``_id`` in ``index`` (a scroll: it works alike on Elasticsearch and OpenSearch)."""
    answer = connection.send(
        Request(
            "POST",
            f"/{index}/_search",
            {"scroll": "2m", "filter_path": "_scroll_id,hits.hits._id"},
            {"size": SCROLL_PAGE, "_source": False, "sort": ["_doc"]},
            write=False,
        )
    )
    scroll_id = answer.get("_scroll_id")
    try:
        while True:
            hits = (answer.get("hits") or {}).get("hits") or []
            if not hits:
                return
            for hit in hits:
                if str(hit.get("_id", "")).isdigit():
                    yield int(hit["_id"])
            answer = connection.send(
                Request(
                    "POST",
                    "/_search/scroll",
                    {"filter_path": "_scroll_id,hits.hits._id"},
                    {"scroll": "2m", "scroll_id": scroll_id},
                    write=False,
                )
            )
            scroll_id = answer.get("_scroll_id", scroll_id)
    finally:
        if scroll_id:
            with suppress(SearchError):  # the scroll expires by itself in two minutes
                connection.send(Request("DELETE", "/_search/scroll", body={"scroll_id": [scroll_id]}, write=False))


def _get_documents(connection: SearchConnection, index: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 1_000):
        part = ids[start : start + 1_000]
        answer = connection.send(
            Request("POST", f"/{index}/_mget", body={"ids": [str(value) for value in part]}, write=False)
        )
        for doc in answer.get("docs") or []:
            if doc.get("found"):
                found[int(doc["_id"])] = doc.get("_source") or {}
    return found


# --------------------------------------------------------------------------- full sync


def sync_full(
    settings: Settings,
    secrets: Mapping[str, str],
    *,
    on_event: EventSink | None = None,
    connection: SearchConnection | None = None,
) -> FullSyncResult:
    """Every event into the index behind the alias, extra documents deleted, then checked.

    Outbox rows up to the final position are marked processed afterwards: the index
    holds their effect. Rows the copy could not use stay unprocessed (and named).
    """
    emit = _emit(on_event)
    alias = settings.search.index
    with _search_connection(settings, secrets, connection) as conn:
        for warning in conn.warnings:
            emit(IndexEvent("warning", warning))
        target = check_target(conn, alias)

        def verify(check: ContentCheck) -> None:
            if not check.ok:
                raise SyncMismatchError(
                    f"{alias} → {target.name} does not match the events database after the copy: {check.describe()}",
                    hint="a writer changes events without an outbox row (run it again, and check the writers), or "
                    "the database was re-created while the index kept newer versions: 'ticketctl index migrate "
                    "--rebuild' builds a fresh version from the database",
                )

        report = copy_database(conn, settings, secrets, alias, prune=True, at_freeze=verify, on_event=on_event)
        with open_events_database(settings, secrets) as session:
            marked = outbox.mark_processed_through(
                session, report.final_position, exclude=[item.row.id for item in report.unusable]
            )
        emit(IndexEvent("step", f"marked {marked} outbox rows up to {report.final_position} processed"))
        return FullSyncResult(alias=alias, target=target.name, server=conn.info, copy=report, marked_processed=marked)


@contextmanager
def _search_connection(
    settings: Settings, secrets: Mapping[str, str], connection: SearchConnection | None
) -> Iterator[SearchConnection]:
    if connection is not None:
        yield connection
        return
    conn = connect(settings, secrets)
    try:
        yield conn
    finally:
        conn.close()


# --------------------------------------------------------------------------- incremental sync


def sync_outbox(
    settings: Settings,
    secrets: Mapping[str, str],
    *,
    batch: int = OUTBOX_BATCH,
    follow: bool = False,
    interval: float = 1.0,
    stop: threading.Event | None = None,
    on_event: EventSink | None = None,
    connection: SearchConnection | None = None,
) -> OutboxSyncResult:
    """Apply the unprocessed outbox rows to the index behind the alias, in id order, and mark them.

    Each batch is one transaction: claim rows (``FOR UPDATE SKIP LOCKED``: another
    sync takes the next ones), leave the events that have an earlier row held by
    another sync, read the events, write their documents at the version of their
    last row, mark the rows processed, commit. A crash before the commit leaves the
    rows to be applied again (at least once; the versions make it harmless).
    ``follow`` polls every ``interval`` seconds until ``stop`` is set.
    """
    emit = _emit(on_event)
    stop = stop or threading.Event()
    alias = settings.search.index
    started = time.monotonic()
    with _search_connection(settings, secrets, connection) as conn, ExitStack() as stack:
        for warning in conn.warnings:
            emit(IndexEvent("warning", warning))
        target = check_target(conn, alias)
        session = stack.enter_context(open_events_database(settings, secrets, autocommit=False))
        check_database(session, settings)
        session.commit()
        result = OutboxSyncResult(alias=alias, index=target.name, server=conn.info)
        skip_locked = outbox.supports_skip_locked(session.server)
        if not skip_locked:
            result.concurrency = "lock"
            stack.enter_context(_exclusive(session, settings, emit, stop))
        upto = None if follow else outbox.last_id(session)
        session.commit()
        runner = _OutboxRun(session, BulkWriter(conn, alias), batch, skip_locked, upto, result, emit, stop)
        waited_since: float | None = None
        while not stop.is_set():
            try:
                applied, deferred = runner.round()
            except WriteBlockedError as blocked:
                if not follow:
                    raise
                runner.wait_for_unblock(blocked, interval)
                continue
            if follow:
                if not applied:
                    stop.wait(interval)
                continue
            if deferred:
                waited_since = waited_since or time.monotonic()
                if time.monotonic() - waited_since < DEFERRED_PATIENCE:
                    stop.wait(min(interval, 0.2))
                    continue
                result.deferred = deferred
            if not applied:
                break
            waited_since = None
        result.seconds = time.monotonic() - started
        return result


@dataclass
class _OutboxRun:
    session: Session
    writer: BulkWriter
    batch: int
    skip_locked: bool
    upto: int | None  # without --follow: the last row when the run began (a busy outbox does not keep it going)
    result: OutboxSyncResult
    emit: EventSink
    stop: threading.Event
    reported: set[int] = field(default_factory=set)
    blocked: bool = False  # the index refused writes; a warning was emitted

    def wait_for_unblock(self, blocked: WriteBlockedError, interval: float) -> None:
        """The batch was rolled back: say so once, and try again after a while (the alias moves after a migration)."""
        if not self.blocked:
            self.emit(IndexEvent("warning", f"{blocked.message}: waiting, the rows stay unprocessed meanwhile"))
        self.blocked = True
        self.stop.wait(max(interval, 1.0))

    def round(self) -> tuple[int, int]:
        """One pass over the unprocessed rows; returns (rows applied, rows deferred)."""
        cursor = 0
        applied = deferred = 0
        while not self.stop.is_set():
            rows = outbox.claim(self.session, cursor, self.batch, skip_locked=self.skip_locked, upto=self.upto)
            if not rows:
                self.session.commit()
                break
            cursor = rows[-1].id
            try:
                done, waiting = self._apply(rows)
            except BaseException:
                self.session.rollback()
                raise
            self.session.commit()
            self.blocked = False
            applied += done
            deferred += waiting
        return applied, deferred

    def _apply(self, rows: list[OutboxRow]) -> tuple[int, int]:
        usable, unusable = _split_usable(rows)
        for item in unusable:
            if item.row.id not in self.reported:
                self.reported.add(item.row.id)
                self.result.skipped.append(item)
                _warn_unusable(self.emit, item)
        first: dict[int, int] = {}
        for row in usable:
            first.setdefault(row.aggregate_id, row.id)
        waiting = outbox.held_elsewhere(self.session, first, [*(row.id for row in rows), *self.reported])
        ready = [row for row in usable if row.aggregate_id not in waiting]
        sources = read_by_ids(self.session, {row.aggregate_id for row in ready})
        actions = _actions(ready, sources)
        if actions:
            self.result.counts.add(self.writer.write(actions))
        outbox.mark_processed(self.session, [row.id for row in ready])
        self.result.rows += len(ready)
        self.result.batches += 1
        if ready:
            self.emit(IndexEvent("step", f"applied outbox rows {ready[0].id}–{ready[-1].id} ({len(actions)} events)"))
        return len(ready), len(usable) - len(ready)


@contextmanager
def _exclusive(session: Session, settings: Settings, emit: EventSink, stop: threading.Event) -> Iterator[None]:
    """One sync at a time, for servers without SKIP LOCKED (MySQL < 8.0.1, MariaDB < 10.6): a named lock."""
    from ticketctl.clients.mysql import lock_name

    name = lock_name("outbox", settings.mysql.database("events").name)
    emit(IndexEvent("warning", f"{session.server.label} has no SKIP LOCKED: one sync at a time (lock {name})"))
    while not stop.is_set():
        row = session.query_one("SELECT GET_LOCK(%s, 1)", (name,))
        if row and row[0] == 1:
            break
    try:
        yield
    finally:
        session.query("SELECT RELEASE_LOCK(%s)", (name,))

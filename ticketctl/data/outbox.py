"""``events_db.outbox_events`` as the indexer reads it: claim, check, mark, and freeze.

The statements here are the whole protocol between the writers of the outbox (the
events service, ``seed``) and its readers (``index sync``, ``index migrate``);
``docs/data.md`` states it for the writers and proves what the readers rely on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

from ticketctl.errors import DatabaseError, LockedError

if TYPE_CHECKING:
    from ticketctl.clients.mysql import ServerInfo, Session

AGGREGATE_TYPE = "event"
FREEZE_WAIT_SECONDS = 10  # how long the freeze waits for writers' open transactions before it gives up
ER_LOCK_WAIT_TIMEOUT = 1205
_MARK_CHUNK = 5_000
_COLUMNS = "id, aggregate_id, aggregate_type, event_type, payload"


class OutboxRow(NamedTuple):
    id: int
    aggregate_id: int
    aggregate_type: str
    event_type: str
    payload: str | bytes | None


class Unusable(NamedTuple):
    """A row the indexer cannot trust: left unprocessed, reported with the reason."""

    row: OutboxRow
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"id": self.row.id, "aggregate_id": self.row.aggregate_id, "reason": self.reason}


def unusable_reason(row: OutboxRow) -> str | None:
    """Why a row cannot be applied, or None.

    The payload must be a JSON object; an ``eventId`` in it must be the row's
    ``aggregate_id``; the aggregate must be an event. A JSON column cannot hold
    invalid JSON on MySQL 8, nor on MariaDB while its ``JSON_VALID`` check is on,
    but a table created by other means, or a check switched off, can.
    """
    if str(row.aggregate_type).lower() != AGGREGATE_TYPE:
        return f"aggregate_type {row.aggregate_type!r} is not {AGGREGATE_TYPE!r}"
    text = row.payload.decode("utf-8", "replace") if isinstance(row.payload, bytes) else row.payload
    if text is None:
        return "payload is NULL"
    try:
        payload = json.loads(text)
    except ValueError as error:
        return f"payload is not valid JSON ({error}): {_excerpt(text)}"
    if not isinstance(payload, dict):
        return f"payload is not a JSON object: {_excerpt(text)}"
    event_id = payload.get("eventId", row.aggregate_id)
    if event_id != row.aggregate_id:
        return f"payload eventId {event_id!r} differs from aggregate_id {row.aggregate_id}"
    return None


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= 60 else flat[:57] + "...")


def supports_skip_locked(server: ServerInfo) -> bool:
    """``SELECT … FOR UPDATE SKIP LOCKED``: MySQL 8.0.1 and MariaDB 10.6 have it."""
    return server.version >= ((10, 6, 0) if server.is_mariadb else (8, 0, 1))


def claim(
    session: Session, after_id: int, limit: int, *, skip_locked: bool, upto: int | None = None
) -> list[OutboxRow]:
    """Lock the next unprocessed rows after ``after_id`` (up to ``upto``), in id order, skipping rows another
    sync holds."""
    skip = " SKIP LOCKED" if skip_locked else ""
    bound = "" if upto is None else f" AND id <= {int(upto)}"
    rows = session.query(
        f"SELECT {_COLUMNS} FROM outbox_events WHERE processed = FALSE AND id > %s{bound} ORDER BY id LIMIT %s "
        "FOR UPDATE" + skip,
        (after_id, limit),
    )
    return [OutboxRow(*row) for row in rows]


def held_elsewhere(session: Session, first_ids: dict[int, int], exclude: Iterable[int]) -> set[int]:
    """The aggregates of ``first_ids`` (aggregate → its first row in this batch) that must wait.

    An aggregate waits when an unprocessed row of it, earlier than its first row here
    and not in ``exclude`` (this batch, the rows this sync skipped), exists: another
    sync holds that row, so the rows of one event are applied in id order whatever the
    number of syncs. A later row held elsewhere does not matter: that sync waits for us.
    """
    if not first_ids:
        return set()
    aggregates = sorted(first_ids)
    skipped = sorted(set(exclude))
    not_in = f" AND id NOT IN ({', '.join(['%s'] * len(skipped))})" if skipped else ""
    rows = session.query(
        f"SELECT aggregate_id, MIN(id) FROM outbox_events WHERE aggregate_id IN ({', '.join(['%s'] * len(aggregates))})"
        f" AND processed = FALSE AND id < %s{not_in} GROUP BY aggregate_id",
        (*aggregates, max(first_ids.values()), *skipped),
    )
    return {int(aggregate) for aggregate, earliest in rows if int(earliest) < first_ids[int(aggregate)]}


def mark_processed(session: Session, ids: Sequence[int]) -> None:
    for start in range(0, len(ids), _MARK_CHUNK):
        part = ids[start : start + _MARK_CHUNK]
        session.execute(
            f"UPDATE outbox_events SET processed = TRUE WHERE id IN ({', '.join(['%s'] * len(part))})", tuple(part)
        )


def mark_processed_through(session: Session, position: int, *, exclude: Iterable[int] = ()) -> int:
    """Mark every unprocessed row up to ``position`` processed (after a full sync covered them)."""
    skipped = sorted(set(exclude))
    not_in = f" AND id NOT IN ({', '.join(['%s'] * len(skipped))})" if skipped else ""
    marked = 0
    low = 0
    while low < position:
        high = min(position, low + _MARK_CHUNK * 4)
        marked += session.execute(
            f"UPDATE outbox_events SET processed = TRUE WHERE id > %s AND id <= %s AND processed = FALSE{not_in}",
            (low, high, *skipped),
        )
        session.commit()
        low = high
    return marked


def rows_after(session: Session, position: int, limit: int) -> list[OutboxRow]:
    """Rows with ``id > position`` whether processed or not: the catch-up of a copy reads them all."""
    rows = session.query(f"SELECT {_COLUMNS} FROM outbox_events WHERE id > %s ORDER BY id LIMIT %s", (position, limit))
    return [OutboxRow(*row) for row in rows]


def ids_after(session: Session, position: int) -> list[int]:
    return [int(row[0]) for row in session.query("SELECT id FROM outbox_events WHERE id > %s ORDER BY id", (position,))]


def rows_by_ids(session: Session, ids: Sequence[int]) -> list[OutboxRow]:
    if not ids:
        return []
    rows = session.query(
        f"SELECT {_COLUMNS} FROM outbox_events WHERE id IN ({', '.join(['%s'] * len(ids))}) ORDER BY id", tuple(ids)
    )
    return [OutboxRow(*row) for row in rows]


def last_id(session: Session) -> int:
    row = session.query_one("SELECT COALESCE(MAX(id), 0) FROM outbox_events")
    return int(row[0]) if row else 0


def unprocessed_count(session: Session) -> int:
    row = session.query_one("SELECT COUNT(*) FROM outbox_events WHERE processed = FALSE")
    return int(row[0]) if row else 0


@contextmanager
def frozen(session: Session) -> Iterator[int]:
    """Hold the outbox still: no writer commits a row until the block ends; yields the last id.

    ``LOCK TABLES outbox_events READ`` waits until every transaction that wrote to
    the outbox has ended (their metadata locks conflict with it) and keeps new ones
    from writing. Inside, every row up to the yielded id is committed for good — no
    row with a smaller id can appear later, which a position taken without the lock
    cannot promise (auto-increment ids are handed out before commit). Writers wait
    while it is held, so the block does little: read a position, or a final catch-up.
    ``session`` must run nothing else: LOCK TABLES limits it to this one table.
    """
    session.execute(f"SET SESSION lock_wait_timeout = {FREEZE_WAIT_SECONDS}")
    try:
        session.execute("LOCK TABLES outbox_events READ")
    except DatabaseError as error:
        if getattr(error, "errno", None) == ER_LOCK_WAIT_TIMEOUT:
            raise LockedError(
                f"{session.where}: a transaction that wrote to outbox_events stayed open for {FREEZE_WAIT_SECONDS}s, "
                "so the outbox position could not be fixed",
                hint="find it with SHOW PROCESSLIST (or information_schema.innodb_trx) and let it finish, then run "
                "the command again",
            ) from error
        raise
    try:
        yield last_id(session)
    finally:
        session.execute("UNLOCK TABLES")

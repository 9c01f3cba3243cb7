"""Writing documents through the bulk API: one request per chunk, each item's answer read.

Every write carries an external version (``version_type=external_gte``): the id of
the outbox row it applies, or the outbox position a copy was taken at. The index then
keeps, for each event, the write of the highest version, whatever order the requests
arrive in; an older write is answered 409 and counted as ``stale``, not as an error.
Items refused with 429 (the server's write queue is full) are sent again after a
pause; any other refusal is an error that names the event and the server's reason.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from ticketctl.clients.search import Request, SearchConnection
from ticketctl.errors import SearchError

VERSION_TYPE = "external_gte"
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
_FILTER = "errors,items.*.status,items.*.error.type,items.*.error.reason"


class WriteBlockedError(SearchError):
    """The index refuses writes (``index.blocks.write``): a migration with ``--source index`` is copying it."""


class Action(NamedTuple):
    """Index ``document`` (JSON text) as ``_id`` = ``event_id``, or delete it (``document`` None), at ``version``."""

    event_id: int
    version: int
    document: str | None


@dataclass
class BulkCounts:
    indexed: int = 0
    deleted: int = 0
    stale: int = 0  # the index already held a newer version: the write was refused, as it should
    absent: int = 0  # a delete of a document that was not there
    retried: int = 0  # items sent again after a 429

    def add(self, other: BulkCounts) -> None:
        self.indexed += other.indexed
        self.deleted += other.deleted
        self.stale += other.stale
        self.absent += other.absent
        self.retried += other.retried

    def as_dict(self) -> dict[str, int]:
        return {
            "indexed": self.indexed,
            "deleted": self.deleted,
            "stale": self.stale,
            "absent": self.absent,
            "retried": self.retried,
        }


def encode(actions: Sequence[Action]) -> bytes:
    """The NDJSON body of a bulk request."""
    lines: list[bytes] = []
    for action in actions:
        verb = "delete" if action.document is None else "index"
        lines.append(
            b'{"%s":{"_id":"%d","version":%d,"version_type":"%s"}}'
            % (verb.encode(), action.event_id, action.version, VERSION_TYPE.encode())
        )
        if action.document is not None:
            lines.append(action.document.encode())
    lines.append(b"")
    return b"\n".join(lines)


class BulkWriter:
    """Sends actions to one index (or alias) and tallies what the server did with each."""

    def __init__(
        self,
        connection: SearchConnection,
        target: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ):
        self.connection = connection
        self.target = target
        self._sleep = sleep
        self._retry_delays = retry_delays

    def write(self, actions: Sequence[Action], body: bytes | None = None) -> BulkCounts:
        """Apply ``actions`` (``body``: their encoding, when the caller made it already)."""
        counts = BulkCounts()
        pending = list(actions)
        attempt = 0
        while pending:
            answer = self._send(body if body is not None and attempt == 0 else encode(pending))
            rejected = self._tally(pending, answer, counts)
            if not rejected:
                return counts
            if attempt >= len(self._retry_delays):
                raise SearchError(
                    f"{self._where()}: the server refused {len(rejected)} document(s) with 429 (too many requests) "
                    f"{attempt + 1} times",
                    hint="the cluster is overloaded: run the command again later, or give it more resources",
                )
            delay = self._retry_delays[attempt]
            self._sleep(delay + random.uniform(0, delay / 10))
            counts.retried += len(rejected)
            pending = rejected
            attempt += 1
        return counts

    def _send(self, body: bytes) -> Any:
        request = Request(
            "POST",
            f"/{self.target}/_bulk",
            {"filter_path": _FILTER},
            body,
            write=True,
            content_type="application/x-ndjson",
            recorded=False,
        )
        return self.connection.send(request, timeout=max(self.connection.timeout, 60.0))

    def _tally(self, actions: Sequence[Action], answer: Any, counts: BulkCounts) -> list[Action]:
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list) or len(items) != len(actions):
            raise SearchError(
                f"{self._where()}: the bulk answer lists {len(items) if isinstance(items, list) else 'no'} items for "
                f"{len(actions)} actions",
                hint="check that search.url points at Elasticsearch or OpenSearch directly, not through a proxy that "
                "rewrites answers",
            )
        rejected: list[Action] = []
        for action, item in zip(actions, items, strict=True):
            result = next(iter(item.values())) if isinstance(item, dict) and item else {}
            status = int(result.get("status", 0))
            verb: Literal["index", "delete"] = "delete" if action.document is None else "index"
            if status in (200, 201):
                if verb == "index":
                    counts.indexed += 1
                else:
                    counts.deleted += 1
            elif status == 409:
                counts.stale += 1
            elif status == 404 and verb == "delete":
                counts.absent += 1
            elif status == 429:
                rejected.append(action)
            elif status == 403 and (result.get("error") or {}).get("type") == "cluster_block_exception":
                raise WriteBlockedError(
                    f"{self._where()}: the index is write-blocked ({result['error'].get('reason', '')})",
                    hint="a migration ('ticketctl index migrate --reindex --source index') is copying it: run the "
                    "command again when it is done, or use --follow, which waits",
                )
            else:
                error = result.get("error") or {}
                raise SearchError(
                    f"{self._where()}: {verb} of event {action.event_id} → {status} {error.get('type', '')}: "
                    f"{' '.join(str(error.get('reason', '')).split())}",
                    hint="the index mapping does not fit the document: compare it with the file "
                    "('ticketctl index diff') and migrate it ('ticketctl index migrate')",
                )
        return rejected

    def _where(self) -> str:
        info = self.connection.info
        return f"{info.label} at {info.url}: {self.target}"

"""``ticketctl logs``: the containers' logs interleaved by time, and followed across restarts.

The history (everything up to now, or ``--tail`` lines per container) is read
from every container at once and merged by the Engine's timestamps, so lines of
different services appear in the order they were written, not one service
after the other. Following then picks up at the Engine's clock of that moment,
one thread per service, and hands lines to the caller's thread as they come.
A follower outlives its container: when the service stops it reports the exit
code, and when it runs again (``ticketctl restart``, or ``up`` recreating it)
the follower attaches to it from the last line it saw.

A stopped container's logs are still there: the Engine keeps them until the
container is removed.
"""

from __future__ import annotations

import heapq
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ticketctl.compose.syntax import parse_duration
from ticketctl.config.settings import Settings
from ticketctl.errors import TicketctlError
from ticketctl.runtime.docker import Container, DockerRuntime
from ticketctl.runtime.translate import container_name, select_containers

TIMESTAMP_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
NANOSECONDS = 1_000_000_000
# How often a follower looks for its service's container to run again after it stopped.
REATTACH_SECONDS = 1.0


@dataclass(frozen=True)
class LogLine:
    """One line a container wrote, with the Engine's timestamp."""

    service: str
    container: str
    timestamp: str  # RFC 3339 with nanoseconds, as the Engine wrote it
    nanos: int  # the same instant in nanoseconds since the epoch, for ordering
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"service": self.service, "container": self.container, "timestamp": self.timestamp, "line": self.text}


@dataclass(frozen=True)
class ContainerExited:
    """A followed service's container stopped (its lines so far have been delivered)."""

    service: str
    container: str
    exit_code: int

    def as_dict(self) -> dict[str, str | int]:
        return {"service": self.service, "container": self.container, "exited": self.exit_code}


LogItem = LogLine | ContainerExited


def logs(
    settings: Settings,
    runtime: DockerRuntime,
    services: Sequence[str] = (),
    *,
    on_item: Callable[[LogItem], None],
    follow: bool = False,
    since: float | None = None,
    until: float | None = None,
    tail: int | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Deliver the logs of ``services`` (default: every container of the project) to ``on_item``, in time order.

    With ``follow`` it returns only when ``stop`` is set (or on KeyboardInterrupt
    in the caller's thread); ``on_item`` is always called from the caller's thread.
    """
    containers = select_containers(settings, runtime.containers(settings.project), services)
    until_now = until
    follow_from = 0
    if follow:
        clock = runtime.engine_time()
        follow_from = timestamp_nanos(clock) if TIMESTAMP_RE.match(clock) else time.time_ns()
        until_now = follow_from / NANOSECONDS if until is None else until
    for line in history(runtime, containers, since=since, until=until_now, tail=tail):
        on_item(line)
    if follow and until is None:
        _follow(settings, runtime, containers, follow_from, on_item, stop or threading.Event())


def history(
    runtime: DockerRuntime,
    containers: Sequence[Container],
    *,
    since: float | None = None,
    until: float | None = None,
    tail: int | None = None,
) -> Iterator[LogLine]:
    """The containers' logs merged by timestamp (each container's log is already in order)."""
    streams = [
        _parsed(container, runtime.log_lines(container.id, since=since, until=until, tail=tail))
        for container in containers
    ]
    return heapq.merge(*streams, key=lambda line: line.nanos)


def _parsed(container: Container, raw_lines: Iterator[bytes]) -> Iterator[LogLine]:
    service = container.service or container.name
    for raw in raw_lines:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        stamp, _, message = text.partition(" ")
        if not TIMESTAMP_RE.match(stamp):  # a continuation the Engine did not stamp
            stamp, message = "", text
        yield LogLine(service, container.name, stamp, timestamp_nanos(stamp) if stamp else 0, message)


def _follow(
    settings: Settings,
    runtime: DockerRuntime,
    containers: Sequence[Container],
    start: int,
    on_item: Callable[[LogItem], None],
    stop: threading.Event,
) -> None:
    items: queue.Queue[LogItem] = queue.Queue()
    services = list(dict.fromkeys(c.service or c.name for c in containers))
    for service in services:
        follower = _Follower(runtime, container_name(settings.project, service), service, start, items.put, stop)
        threading.Thread(target=follower.run, name=f"logs-{service}", daemon=True).start()
    try:
        while not stop.is_set():
            try:
                on_item(items.get(timeout=0.2))
            except queue.Empty:
                continue
    finally:
        stop.set()


@dataclass
class _Follower:
    """Follows one service's container; reattaches when it runs again after a stop or a recreation."""

    runtime: DockerRuntime
    name: str  # the container's name: a recreated container has the same one
    service: str
    last: int  # the Engine's time of the last line delivered, in nanoseconds
    put: Callable[[LogItem], None]
    stop: threading.Event

    def run(self) -> None:
        reported: str | None = None  # the container whose exit was reported last
        while not self.stop.is_set():
            try:
                container = self.runtime.inspect(self.name)
            except TicketctlError:
                container = None
            if container is None or container.state not in ("running", "restarting", "paused"):
                if container is not None and container.state in ("exited", "dead") and reported != container.id:
                    self._drain(container)
                    self.put(ContainerExited(self.service, container.name, container.exit_code))
                    reported = container.id
                self.stop.wait(REATTACH_SECONDS)
                continue
            reported = None
            self._drain(container, follow=True)

    def _drain(self, container: Container, *, follow: bool = False) -> None:
        """Deliver the container's lines written after the last one delivered (until it stops, with ``follow``)."""
        since = self.last // NANOSECONDS or None
        try:
            raw_lines = self.runtime.log_lines(container.id, follow=follow, since=since)
            for line in _parsed(container, raw_lines):
                if self.stop.is_set():
                    return
                if line.nanos and line.nanos <= self.last:
                    continue
                self.put(line)
                self.last = max(self.last, line.nanos)
        except TicketctlError:
            self.stop.wait(REATTACH_SECONDS)


def timestamp_nanos(stamp: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time as the Engine writes it (``...:33.123Z``, ``+01:00``)."""
    match = TIMESTAMP_RE.match(stamp)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {stamp!r}")
    whole, fraction, zone = match.groups()
    moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        moment -= sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return int(moment.timestamp()) * NANOSECONDS + int((fraction or "").ljust(9, "0"))


def parse_time(text: str, *, now: float | None = None) -> float:
    """A ``--since``/``--until`` value as Unix seconds: ``10m`` (ago), ``2026-11-30T10:00:00Z``, ``2026-11-30``
    (local time without a zone, as docker does), or Unix seconds. ValueError for anything else."""
    value = text.strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        return float(value)
    if re.fullmatch(r"([0-9]+(\.[0-9]+)?(us|µs|ms|h|m|s))+", value):
        return (time.time() if now is None else now) - parse_duration(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use a duration (10m, 1h30m), an RFC 3339 time or Unix seconds"
        ) from None
    return moment.timestamp() if moment.tzinfo else moment.astimezone().timestamp()

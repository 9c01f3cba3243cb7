"""Progress events: the core never prints, it calls a sink with frozen dataclasses.

The sink is called from worker threads as well as the caller's. The CLI draws
the events (a live table per service, a pull progress bar); a script can log
them or ignore them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Event:
    """Base of every progress event."""


@dataclass(frozen=True)
class StepEvent(Event):
    """A step of the run that is not a service: render, lock, ports, images, initialise."""

    step: str
    status: Literal["started", "done", "skipped", "failed"]
    detail: str = ""


@dataclass(frozen=True)
class Notice(Event):
    """Something the user should know, that is not an error."""

    message: str
    level: Literal["info", "warning"] = "info"


EventSink = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The default sink: drop the event."""


def serialised(sink: EventSink | None) -> EventSink:
    """``sink``, called by one thread at a time (a sink draws or writes and need not be thread-safe)."""
    if sink is None:
        return ignore
    lock = threading.Lock()

    def emit(event: Event) -> None:
        with lock:
            sink(event)

    return emit

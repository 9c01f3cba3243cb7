"""Typed progress events of ``up`` and ``down``.

The core never prints: it calls ``on_event(event)`` with one of these frozen
dataclasses, from worker threads as well as the caller's. The CLI draws them
(a live table per service, a pull progress bar); a script can log them or
ignore them. ``initialise`` callables (migrations, search index) may emit
:class:`StepEvent` and :class:`Notice` through the same callback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Phase = Literal[
    "queued", "pulling", "creating", "recreating", "starting", "running", "healthy", "ready", "failed", "removed"
]
"""``ready`` is the end state of a service without a healthcheck (running), ``healthy`` of one with it."""
Action = Literal["created", "recreated", "started", "unchanged"]


@dataclass(frozen=True)
class Event:
    """Base of every progress event."""


@dataclass(frozen=True)
class ServiceEvent(Event):
    """A service moved to another phase.

    ``action`` is what this run does to the service (once decided); ``health``
    is Docker's health status while it is ``running``; ``elapsed`` counts from
    the moment the service's work began.
    """

    service: str
    phase: Phase
    action: Action | None = None
    health: str | None = None
    detail: str = ""
    elapsed: float = 0.0


@dataclass(frozen=True)
class PullEvent(Event):
    """Progress of an image pull; ``current``/``total`` are bytes of one layer when known."""

    image: str
    status: str
    layer: str | None = None
    current: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class ResourceEvent(Event):
    """A container, network or volume was created, found, removed or kept."""

    kind: Literal["container", "network", "volume"]
    name: str
    action: Literal["created", "exists", "removed", "kept", "orphan"]


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

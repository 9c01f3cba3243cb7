"""The progress events of ``up`` and ``down`` that concern containers, images, networks and volumes.

The steps and notices that any verb emits are in :mod:`ticketctl.events`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ticketctl.events import Event

Phase = Literal[
    "queued",
    "pulling",
    "creating",
    "recreating",
    "restarting",
    "starting",
    "running",
    "healthy",
    "ready",
    "failed",
    "removed",
]
"""``ready`` is the end state of a service without a healthcheck (running), ``healthy`` of one with it."""
Action = Literal["created", "recreated", "started", "unchanged", "restarted"]


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

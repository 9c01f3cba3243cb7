"""Independent work in threads, one per item, every one of them ended before the caller goes on.

``up`` starts services, ``down`` stops containers, ``migrate`` works on the
three databases and ``doctor`` runs its checks this way. Workers are daemon
threads that say they have ended through an :class:`threading.Event`, because
``Thread.join`` cannot be trusted after Ctrl-C: on Python 3.11 a
KeyboardInterrupt inside ``join`` marks the still-running thread as stopped
(bpo-45274) and every later ``join`` returns at once, so the process would go
on, or exit, while a worker is half-way through a Docker call or a statement.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


class Worker(threading.Thread):
    """A daemon thread whose ``ended`` event is set when its work returns or raises."""

    def __init__(self, target: Callable[..., None], *args: Any, name: str | None = None):
        super().__init__(name=name, daemon=True)
        self._work = target
        self._work_args = args
        self.ended = threading.Event()

    def run(self) -> None:
        try:
            self._work(*self._work_args)
        finally:
            self.ended.set()


def wait_for(workers: Sequence[Worker]) -> None:
    """Return once every worker has ended (a KeyboardInterrupt may cut the wait short)."""
    for worker in workers:
        while not worker.ended.wait(0.2):
            pass


def fan_out(
    work: Callable[[_Item], _Result],
    items: Sequence[_Item],
    *,
    name: str,
    cancel: threading.Event | None = None,
) -> list[_Result]:
    """``work(item)`` for every item at once, each in a thread of its own; the results in item order.

    Every call has ended before this returns or raises: then the exception of the
    first item that failed is raised. A Ctrl-C sets ``cancel`` (for calls that
    wait on it, such as a health wait) and waits for the running calls to end
    (each finishes the step it is in) before it propagates.
    """
    if len(items) == 1:
        return [work(items[0])]
    results: list[Any] = [None] * len(items)
    errors: list[BaseException | None] = [None] * len(items)

    def run(index: int) -> None:
        try:
            results[index] = work(items[index])
        except BaseException as error:  # re-raised in the caller's thread
            errors[index] = error

    workers = [Worker(run, index, name=f"{name}-{index}") for index in range(len(items))]
    for worker in workers:
        worker.start()
    try:
        wait_for(workers)
    except KeyboardInterrupt:
        if cancel is not None:
            cancel.set()
        wait_for(workers)
        raise
    for error in errors:
        if error is not None:
            raise error
    return results

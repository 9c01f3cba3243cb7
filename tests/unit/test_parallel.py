"""The thread fan-out: a Ctrl-C sets the cancel event, so calls that wait on it end at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from ticketctl import parallel


def test_a_ctrl_c_sets_cancel_and_the_waiting_calls_end(monkeypatch: pytest.MonkeyPatch) -> None:
    real_wait = parallel.wait_for
    interrupts = [KeyboardInterrupt()]

    def interrupted_once(workers: Sequence[parallel.Worker]) -> None:
        if interrupts:
            raise interrupts.pop()
        real_wait(workers)

    monkeypatch.setattr(parallel, "wait_for", interrupted_once)
    cancel = threading.Event()
    ended: list[tuple[int, bool]] = []

    def work(item: int) -> None:
        ended.append((item, cancel.wait(30)))

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        parallel.fan_out(work, [1, 2], name="test", cancel=cancel)
    assert time.monotonic() - started < 10
    assert sorted(ended) == [(1, True), (2, True)]

"""The project lock: one up/down at a time per endpoint and project."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from ticketctl.errors import LockedError
from ticketctl.runtime.lock import project_lock


def test_a_second_holder_waits_then_gets_the_lock(tmp_path: Path) -> None:
    released = threading.Event()
    waited: list[str] = []

    def hold() -> None:
        with project_lock("unix:///x", "shop", "up", timeout=1, folder=tmp_path):
            released.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.2)
    threading.Timer(0.5, released.set).start()
    with project_lock("unix:///x", "shop", "up", timeout=5, folder=tmp_path, on_wait=waited.append):
        pass
    holder.join()
    assert waited == [f"`ticketctl up`, pid {os.getpid()}"]


def test_a_second_holder_gives_up_after_the_timeout_naming_the_holder(tmp_path: Path) -> None:
    with project_lock("unix:///x", "shop", "down", timeout=1, folder=tmp_path):
        started = time.monotonic()
        with (
            pytest.raises(LockedError) as caught,
            project_lock("unix:///x", "shop", "up", timeout=0.5, folder=tmp_path),
        ):
            pass
        assert 0.4 < time.monotonic() - started < 3
    assert f"`ticketctl down`, pid {os.getpid()}" in caught.value.message
    assert "'shop'" in caught.value.message and caught.value.exit_code == 11


def test_locks_are_per_project_and_endpoint(tmp_path: Path) -> None:
    with (
        project_lock("unix:///x", "shop", "up", timeout=0.1, folder=tmp_path),
        project_lock("unix:///x", "other", "up", timeout=0.1, folder=tmp_path),
        project_lock("tcp://remote:2375", "shop", "up", timeout=0.1, folder=tmp_path),
    ):
        pass

"""Hooks and fixtures of the reliability suite; its harness (Workdir, Transcript, the secret scan) is in
tests/support/reliability.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.reliability import KEYS, Databases, Transcript, Workdir

TRANSCRIPT = Transcript()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """What pytest captured of each test here: its stdout, stderr and logging.

    A failing test's own report is left out: it renders the test's fixtures,
    which hold the passwords the test set up, and is the harness's output, not ticketctl's.
    """
    for name, text in report.sections:
        TRANSCRIPT.record(f"{report.nodeid} [{report.when}] {name}", text)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say what the secret scan covered, so that a pass is not taken for a scan of nothing."""
    if TRANSCRIPT.outputs:
        terminalreporter.write_line(
            f"secret scan: {len(TRANSCRIPT.outputs)} captured outputs, {len(TRANSCRIPT.secrets)} secret values, "
            f"{len(TRANSCRIPT.leaks())} leaks"
        )


@pytest.fixture(scope="session", autouse=True)
def transcript() -> Iterator[Transcript]:
    """The session's transcript; at the end, no output may contain a secret."""
    yield TRANSCRIPT
    leaks = TRANSCRIPT.leaks()
    if leaks:
        pytest.fail("secrets in captured output:\n" + "\n".join(leaks[:20]), pytrace=False)


@pytest.fixture
def workdir(tmp_path: Path, transcript: Transcript) -> Iterator[Workdir]:
    folder = tmp_path / "project"
    folder.mkdir()
    work = Workdir(folder, transcript)
    yield work
    work.stop_all()


@pytest.fixture
def databases(mysql_scratch: Any, transcript: Transcript) -> Databases:
    names, users, passwords = {}, {}, {}
    for key in KEYS:
        names[key] = mysql_scratch.database_name()
        users[key], passwords[key] = mysql_scratch.user(grant_database=names[key])
        transcript.secret(passwords[key], f"password of the test user {users[key]}")
    transcript.secret(mysql_scratch.server.root_password, "the test server's root password")
    return Databases(mysql_scratch.server, names, users, passwords)

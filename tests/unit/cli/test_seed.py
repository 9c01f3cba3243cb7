"""``ticketctl seed``'s bad options: one line naming the option, before any connection."""

from __future__ import annotations

import pytest

from tests.support.cli import invoke
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--start", "1/12/2026"],
            "error: --start: '1/12/2026' is not a date — write it as YYYY-MM-DD, e.g. 2026-12-01",
        ),
        (
            ["--replace", "--replace-all"],
            "error: --replace and --replace-all: choose one — --replace-all includes --replace",
        ),
        (["--method", "copy"], "error: --method: 'copy' is not one of auto, load-data, insert"),
        (["--events", "-3"], "error: --events: must be between 1 and 10000000, got -3"),
    ],
)
def test_cli_refuses_bad_options_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], line: str
) -> None:
    monkeypatch.setenv("TICKETCTL_MYSQL__PORT", "1")  # nothing may connect: the port is closed
    result = invoke(capsys, ["seed", *args])
    assert (result.exit_code, result.stderr) == (ExitCode.CONFIG, line + "\n")

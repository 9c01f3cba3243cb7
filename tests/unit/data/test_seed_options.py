"""Bad seed options are one line naming the option, before any connection."""

from __future__ import annotations

from datetime import date

import pytest

from tests.support.cli import invoke
from ticketctl.data.sample import SeedOptions
from ticketctl.data.seed import check_options
from ticketctl.errors import ConfigError, ExitCode

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (SeedOptions(events=0), "--events: must be between 1 and 10000000, got 0"),
        (SeedOptions(seats_per_event=0), "--seats-per-event: must be between 1 and 100000, got 0"),
        (SeedOptions(booked=1.5), "--booked: must be a share between 0 and 1, got 1.5"),
        (SeedOptions(booked=0.6, reserved=0.6), "--booked + --reserved: 0.6 + 0.6 leaves no seat available"),
    ],
)
def test_options_out_of_range(options: SeedOptions, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_options(options)
    assert caught.value.message == message


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


def test_the_default_start_is_today() -> None:
    assert SeedOptions().start == date.today()

"""Run the real CLI entry point in-process and capture what a user would see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from ticketctl.cli.main import run


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def without_notes(stderr: str) -> str:
    """stderr without the ``note:`` lines about where the settings come from (see ``cli/common.py``'s load)."""
    return "".join(line for line in stderr.splitlines(keepends=True) if not line.startswith("note: "))


def invoke(capsys: pytest.CaptureFixture[str], args: Sequence[str]) -> CliResult:
    """``ticketctl <args>`` through the same boundary as the console script."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run(list(args))
    captured = capsys.readouterr()
    code = exit_info.value.code
    return CliResult(int(code) if isinstance(code, int) else 1, captured.out, captured.err)

"""The code stays ruff- and mypy-clean: CI runs the linters as part of the suite."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.requirements import MYPY, RUFF

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "args", [["check", "ticketctl", "tests", "bench"], ["format", "--check", "ticketctl", "tests"]]
)
def test_ruff(args: list[str]) -> None:
    result = subprocess.run([RUFF.require(), *args], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = subprocess.run([MYPY.require()], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr

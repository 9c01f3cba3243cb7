"""The test suite itself as a process: for the tests of its own rules (skips, golden files)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_pytest(selection: Sequence[str], environment: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m pytest -q -rfs <selection>`` from the repository, in exactly ``environment``."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfs", *selection],
        cwd=ROOT,
        env=dict(environment),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def this_environment(*, without: Sequence[str] = ()) -> dict[str, str]:
    """The current environment without ``without`` and without options meant for the outer pytest."""
    return {name: value for name, value in os.environ.items() if name not in (*without, "PYTEST_ADDOPTS")}

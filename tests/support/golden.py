"""Golden files: what a renderer writes, compared byte for byte with reviewed files in the repository.

A :class:`Golden` is one folder of golden cases (``tests/unit/render/golden/compose``), each
case a subfolder holding exactly the files that case renders. :meth:`Golden.check` compares
the whole folder: a file missing, different or extra fails. A golden folder that no
:class:`Golden` declares, or a case folder that its :class:`Golden` does not list, fails
``tests/unit/test_golden.py``: a stale golden file is an error, not an ornament.

To accept a change on purpose, run the tests with ``TICKETCTL_UPDATE_GOLDEN=1`` (or its older
name ``TICKETCTL_TEST_UPDATE_GOLDEN=1``) and review ``git diff``. The files are rewritten only
where they differ, and each test that rewrote one fails, so that an update run is never a
green run. Under CI the variables are refused before any test runs (``tests/conftest.py``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.requirements import in_ci

UPDATE_VARIABLES = ("TICKETCTL_UPDATE_GOLDEN", "TICKETCTL_TEST_UPDATE_GOLDEN")
TESTS = Path(__file__).resolve().parents[1]
GOLDEN_FOLDER_NAME = "golden"


def update_requested(environ: Mapping[str, str] | None = None) -> list[str]:
    """The update variables that are set (to anything but empty or 0)."""
    environ = os.environ if environ is None else environ
    return [name for name in UPDATE_VARIABLES if environ.get(name, "") not in ("", "0")]


def refusal_under_ci(environ: Mapping[str, str] | None = None) -> str | None:
    """Why this run may not start, when it asks to rewrite golden files under CI; else None."""
    asked = update_requested(environ)
    if asked and in_ci(environ):
        return (
            f"{', '.join(asked)} is set under CI: golden files are compared in CI, never rewritten; "
            "unset it, update the files on your machine and commit them"
        )
    return None


def stored_name(name: str) -> str:
    """The file name a rendered file is stored under: one level (``a/b`` → ``a__b``), no dotfile named ``.env``."""
    flat = name.replace("/", "__")
    return "dotenv" + flat[len(".env") :] if flat.startswith(".env") else flat


@dataclass(frozen=True)
class Golden:
    """A folder of golden cases: ``render(case, tmp_path)`` gives the files of each case by name."""

    folder: Path
    cases: tuple[str, ...]
    render: Callable[[str, Path], Mapping[str, str]]

    def check(self, case: str, tmp_path: Path) -> None:
        """The rendered files of ``case`` are exactly the golden ones (rewritten and failed on an update run)."""
        assert case in self.cases, f"{case!r} is not a case of {self.folder}"
        rendered = {stored_name(name): content for name, content in self.render(case, tmp_path).items()}
        folder = self.folder / case
        stored = {path.name: path.read_text(encoding="utf-8") for path in sorted(folder.glob("*")) if path.is_file()}
        if update_requested():
            changed = _rewrite(folder, stored, rendered)
            if changed:
                pytest.fail(f"rewrote golden files of {folder}: {', '.join(changed)}; review `git diff`", pytrace=False)
            return
        hint = f"if the change is meant, run with {UPDATE_VARIABLES[0]}=1 and review `git diff {folder}`"
        assert sorted(rendered) == sorted(stored), f"{folder}: files rendered ≠ files stored; {hint}"
        for name, content in rendered.items():
            assert content == stored[name], f"{folder / name} differs from what is rendered; {hint}"

    def stale_cases(self) -> list[Path]:
        """Case folders under :attr:`folder` that are not cases any more."""
        return sorted(path for path in self.folder.iterdir() if path.is_dir() and path.name not in self.cases)


def _rewrite(folder: Path, stored: Mapping[str, str], rendered: Mapping[str, str]) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name in sorted(set(stored) | set(rendered)):
        if name not in rendered:
            (folder / name).unlink()
            changed.append(f"{name} (removed)")
        elif stored.get(name) != rendered[name]:
            (folder / name).write_text(rendered[name], encoding="utf-8")
            changed.append(name)
    return changed


def golden_folders() -> list[Path]:
    """Every folder named ``golden`` under tests/."""
    return sorted(path for path in TESTS.rglob(GOLDEN_FOLDER_NAME) if path.is_dir())


def remove_stale(golden: Golden) -> None:
    for path in golden.stale_cases():
        shutil.rmtree(path)

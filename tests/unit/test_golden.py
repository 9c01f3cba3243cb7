"""Golden files stay honest: none is stale, and none is rewritten under CI (tests/support/golden.py)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.support.golden import Golden, golden_folders, refusal_under_ci, remove_stale, update_requested
from tests.support.requirements import CI_VARIABLE
from tests.support.suite import run_pytest, this_environment

ROOT = Path(__file__).resolve().parents[2]


def _declared() -> list[Golden]:
    """Every Golden of the suite: the module-level ones of each test module that declares one."""
    found = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        if "Golden(" not in path.read_text(encoding="utf-8") or path == Path(__file__).resolve():
            continue
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        found += [value for value in vars(module).values() if isinstance(value, Golden)]
    return found


def test_every_golden_file_belongs_to_a_case_of_a_test() -> None:
    declared = _declared()
    assert {golden.folder.name for golden in declared} == {"compose", "kubernetes"}
    folders = {golden.folder for golden in declared}
    strays = [
        path
        for golden_folder in golden_folders()
        for path in golden_folder.iterdir()
        if path not in folders  # a file or folder of golden files that no test declares
    ]
    strays += [path for golden in declared for path in golden.folder.iterdir() if path.is_file()]
    stale = [path for golden in declared for path in golden.stale_cases()]
    if update_requested() and stale:
        for golden in declared:
            remove_stale(golden)
        pytest.fail(f"removed stale golden cases {[str(p.relative_to(ROOT)) for p in stale]}; review `git status`")
    assert strays + stale == [], "golden files no test compares with; remove them or add the case"


def test_a_stale_case_folder_is_found(tmp_path: Path) -> None:
    """The check is not vacuous: a case folder that is no case any more is reported."""
    (tmp_path / "kept").mkdir()
    (tmp_path / "gone").mkdir()
    golden = Golden(tmp_path, ("kept",), lambda case, path: {})
    assert golden.stale_cases() == [tmp_path / "gone"]


def test_an_extra_or_missing_file_in_a_case_fails_the_comparison(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TICKETCTL_UPDATE_GOLDEN", "TICKETCTL_TEST_UPDATE_GOLDEN"):
        monkeypatch.delenv(name, raising=False)
    case = tmp_path / "golden" / "one"
    case.mkdir(parents=True)
    (case / "a.yml").write_text("a\n")
    (case / "stale.yml").write_text("old\n")
    golden = Golden(tmp_path / "golden", ("one",), lambda name, path: {"a.yml": "a\n"})
    with pytest.raises(AssertionError, match="files rendered ≠ files stored"):
        golden.check("one", tmp_path)
    (case / "stale.yml").unlink()
    golden.check("one", tmp_path)
    (case / "a.yml").write_text("b\n")
    with pytest.raises(AssertionError, match=r"a\.yml differs"):
        golden.check("one", tmp_path)


def test_an_update_run_rewrites_only_what_differs_and_is_not_green(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETCTL_UPDATE_GOLDEN", "1")
    monkeypatch.delenv(CI_VARIABLE, raising=False)
    case = tmp_path / "one"
    case.mkdir()
    (case / "same.yml").write_text("same\n")
    (case / "gone.yml").write_text("gone\n")
    golden = Golden(tmp_path, ("one",), lambda name, path: {"same.yml": "same\n", "new.yml": "new\n"})
    with pytest.raises(pytest.fail.Exception, match=r"rewrote golden files of .*: gone.yml \(removed\), new.yml"):
        golden.check("one", tmp_path)
    assert sorted(path.name for path in case.iterdir()) == ["new.yml", "same.yml"]
    golden.check("one", tmp_path)  # nothing differs any more: the update run passes


@pytest.mark.parametrize("variable", ["TICKETCTL_UPDATE_GOLDEN", "TICKETCTL_TEST_UPDATE_GOLDEN"])
def test_update_variables_are_refused_under_ci(variable: str) -> None:
    assert refusal_under_ci({variable: "1", CI_VARIABLE: "true"}) is not None
    assert variable in (refusal_under_ci({variable: "1", CI_VARIABLE: "yes"}) or "")
    assert refusal_under_ci({variable: "1"}) is None
    assert refusal_under_ci({variable: "0", CI_VARIABLE: "true"}) is None


def test_a_ci_run_asked_to_update_goldens_stops_before_any_test(tmp_path: Path) -> None:
    golden = ROOT / "tests" / "unit" / "render" / "golden" / "compose" / "default" / "docker-compose.yml"
    before = golden.read_bytes()
    environment = {**this_environment(), CI_VARIABLE: "true", "TICKETCTL_UPDATE_GOLDEN": "1"}
    done = run_pytest(["tests/unit/render/test_compose.py"], environment)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "TICKETCTL_UPDATE_GOLDEN is set under CI: golden files are compared in CI, never rewritten" in done.stderr
    assert "passed" not in done.stdout and golden.read_bytes() == before

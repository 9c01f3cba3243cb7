"""The suite's one rule for what is missing (tests/support/requirements.py) holds everywhere.

Every skip goes through the rule, CI has one definition, and under CI a missing tool
fails the run, naming the tool and how to install it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.requirements import CI_VARIABLE, GO, KUBECTL, VENV_BIN, in_ci
from tests.support.suite import run_pytest, this_environment

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
THE_RULE = TESTS / "support" / "requirements.py"

# Ways to skip a test or to look for a program or for CI, other than through the rule.
STRAY = {
    "a skip": re.compile(r"\bpytest\s*\.\s*skip\s*\(|\bskipif\b|\bimportorskip\b|\bmark\s*\.\s*skip\b"),
    "an expected failure": re.compile(r"\bxfail\b"),
    "unittest's skip": re.compile(r"\bunittest\b.*\bskip"),
    "a look-up of a program": re.compile(r"\bshutil\s*\.\s*which\s*\(|\bwhich\s*\(\s*[\"']"),
    "a reading of CI": re.compile(r"""(environ|getenv)\s*(\.\s*get\s*)?[(\[]\s*["']CI["']"""),
}


def test_nothing_in_the_suite_skips_except_through_the_one_rule() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        if path in (THE_RULE, Path(__file__).resolve()):  # the rule itself, and the forms planted below
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for what, pattern in STRAY.items():
                if pattern.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {what}: {line.strip()}")
    assert found == [], "use tests/support/requirements.py (missing, Tool.require) instead:\n" + "\n".join(found)


def test_the_grep_would_see_each_stray_form() -> None:
    """The patterns are not vacuous: each catches the form it names."""
    forms = {
        "a skip": ['pytest.skip("no")', "@pytest.mark.skipif(True, reason='x')", "pytest.importorskip('yaml')"],
        "an expected failure": ["@pytest.mark.xfail"],
        "unittest's skip": ["@unittest.skip('x')"],
        "a look-up of a program": ['shutil.which("go")', "which('kubectl')"],
        "a reading of CI": ['os.environ.get("CI")', "os.environ['CI']", 'os.getenv("CI")'],
    }
    for what, lines in forms.items():
        for line in lines:
            assert STRAY[what].search(line), (what, line)


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "1", "yes", "on", " true\n"])
def test_ci_is_recognised_in_every_usual_spelling(value: str) -> None:
    assert in_ci({CI_VARIABLE: value})


@pytest.mark.parametrize("value", ["", "0", "false", "no", "off"])
def test_anything_else_is_not_ci(value: str) -> None:
    assert not in_ci({CI_VARIABLE: value})
    assert not in_ci({})


# Tests that need kubectl and Go, and nothing else of the machine.
NEEDS_KUBECTL_AND_GO = [
    "tests/unit/render/test_kubernetes_schema.py::test_kubectl_kustomize_builds_the_folder",
    "tests/unit/render/test_compose.py::test_compose_output_is_valid_against_the_compose_specification_schema",
]


def _pytest_without_kubectl_and_go(ci: str | None, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The selection in a pytest of its own whose PATH holds only the virtualenv (no kubectl, no go)."""
    environment = this_environment(without=(CI_VARIABLE, KUBECTL.variable or "", GO.variable or ""))
    environment["PATH"] = str(VENV_BIN)
    environment["HOME"] = str(tmp_path)  # no Go caches or kube configs of this machine's user either
    if ci is not None:
        environment[CI_VARIABLE] = ci
    return run_pytest(NEEDS_KUBECTL_AND_GO, environment)


def test_under_ci_a_missing_kubectl_or_go_fails_the_run_naming_it(tmp_path: Path) -> None:
    done = _pytest_without_kubectl_and_go("true", tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert output.rstrip().splitlines()[-1].startswith("3 failed in "), output
    assert "kubectl is not installed ($TICKETCTL_TEST_KUBECTL is unset and it is not on PATH)" in output
    assert "go is not installed ($TICKETCTL_TEST_GO is unset and it is not on PATH)" in output
    assert "scripts/test-services up builds it" in output and "scripts/test-services up installs it" in output


def test_outside_ci_the_same_tests_are_skipped_with_the_reason(tmp_path: Path) -> None:
    done = _pytest_without_kubectl_and_go(None, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert output.rstrip().splitlines()[-1].startswith("3 skipped in "), output
    assert output.count("SKIPPED [") >= 2 and "kubectl is not installed" in output and "go is not installed" in output


# A skip that does not come from the rule: pytest skips a test whose parameter list is empty.
EMPTY_PARAMETRIZE = """
import pytest


@pytest.mark.parametrize("case", [])
def test_every_case(case):
    assert case


def test_something_real():
    assert True
"""


def _pytest_with_an_empty_parametrize(ci: str | None, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    planted = tmp_path / "test_planted.py"
    planted.write_text(EMPTY_PARAMETRIZE, encoding="utf-8")
    environment = this_environment(without=(CI_VARIABLE,))
    if ci is not None:
        environment[CI_VARIABLE] = ci
    return run_pytest(["-p", "tests.support.requirements", "--rootdir", str(tmp_path), str(planted)], environment)


def test_under_ci_a_skip_from_anywhere_fails_the_run(tmp_path: Path) -> None:
    done = _pytest_with_an_empty_parametrize("true", tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert "CI=true: nothing may be skipped, and 1 test(s) were, so the run fails: " in output
    assert "were, so the run fails: test_planted.py::test_every_case[NOTSET]\n" in output
    assert output.rstrip().splitlines()[-1].startswith("1 passed, 1 skipped in "), output


def test_outside_ci_that_skip_is_only_reported(tmp_path: Path) -> None:
    done = _pytest_with_an_empty_parametrize(None, tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == pytest.ExitCode.OK, output
    assert "nothing may be skipped" not in output

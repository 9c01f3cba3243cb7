"""Documentation that is generated from the code stays in sync with it."""

from __future__ import annotations

import re
from pathlib import Path

from ticketctl.config.settings import load_settings
from ticketctl.render.diagram import BEGIN_MARKER, END_MARKER, infrastructure_mermaid
from ticketctl.stack.model import build_stack

ROOT = Path(__file__).resolve().parents[2]


def test_architecture_diagram_matches_the_stack_model(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    start = text.index(BEGIN_MARKER) + len(BEGIN_MARKER) + 1
    end = text.index(END_MARKER)
    expected = infrastructure_mermaid(build_stack(load_settings(None, environ={}, cwd=tmp_path)))
    assert text[start:end] == expected, "run: ticketctl render --target mermaid, paste into docs/architecture.md"


def test_architecture_names_all_nine_services(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    stack = build_stack(load_settings(None, environ={"TICKETCTL_PROFILES": "apps"}, cwd=tmp_path))
    applications = [service.name for service in stack.services if service.role != "infrastructure"]
    assert len(applications) == 9, applications
    missing = [name for name in applications if f"| {name} |" not in text]
    assert missing == [], f"docs/architecture.md has no table row for {missing}"


def test_readme_lists_every_exit_code() -> None:
    from ticketctl.errors import ExitCode

    text = (ROOT / "README.md").read_text()
    for code in ExitCode:
        assert f"\n| {int(code)} | " in text, f"exit code {int(code)} ({code.name}) is missing from the README"


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    head = text.split("\n## ", 1)[0]
    assert "scripts/quickstart" in head and "scripts/run-tests" in head
    for script in ("scripts/quickstart", "scripts/run-tests", ".ci/run"):
        assert (ROOT / script).stat().st_mode & 0o111, f"{script} is not executable"


def test_every_repository_path_the_docs_name_exists() -> None:
    """A path in backticks (`ticketctl/…`, `tests/…`, `bench/…`, `scripts/…`) names a file or folder that is
    there: a move (the refactor of issue 13 moved many) must update the prose that points at it."""
    documents = [ROOT / "README.md", ROOT / "tests" / "README.md", ROOT / "bench" / "README.md"]
    documents += [ROOT / "bench" / "analysis.md", *sorted((ROOT / "docs").glob("*.md"))]
    named = re.compile(r"`((?:ticketctl|tests|bench|scripts|docs)/[^`\s<>*]+)`")
    gone = [
        f"{document.relative_to(ROOT)}: {path}"
        for document in documents
        for path in named.findall(document.read_text(encoding="utf-8"))
        if not (ROOT / path.split("::")[0].rstrip(".,:")).exists()
    ]
    assert gone == []

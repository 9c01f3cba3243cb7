"""The mapping file as a new user meets it (issue 14): a key written twice, and the file named once in the settings.

Each on both engines of the test servers (OpenSearch, Elasticsearch), ticketctl as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.search_targets import SearchTarget
from ticketctl.errors import ExitCode
from ticketctl.search.spec import load_mapping

pytestmark = pytest.mark.integration


def _ticketctl(target: SearchTarget, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TICKETCTL_")}
    env.update({"TICKETCTL_SEARCH__URL": target.url, "TICKETCTL_SEARCH__INDEX": target.alias, "NO_COLOR": "1"})
    return subprocess.run(
        [sys.executable, "-m", "ticketctl", *args],
        cwd=cwd or target.tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _with_a_key_twice(target: SearchTarget) -> tuple[Path, int, int]:
    """The packaged mapping with the field ``name`` written twice; the last (a keyword) would win silently."""
    document = json.loads(load_mapping().path.read_text(encoding="utf-8"))
    properties = document["mappings"]["properties"]
    document["mappings"]["properties"] = {**properties, "SECOND_NAME": {"type": "keyword"}}
    lines = json.dumps(document, indent=2, ensure_ascii=False).replace('"SECOND_NAME"', '"name"').splitlines()
    occurrences = [number for number, line in enumerate(lines, start=1) if line.strip().startswith('"name": {')]
    path = target.tmp_path / "twice.json"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, occurrences[-1], occurrences[0]


def test_a_mapping_key_written_twice_is_refused_with_file_and_line(search: SearchTarget) -> None:
    path, line, first_line = _with_a_key_twice(search)
    json.loads(path.read_text())  # valid JSON: Python's json takes it and keeps the last value
    expected = f"twice.json:{line}: mappings.properties.name: set twice in the same object, first on line {first_line}"
    for args in (
        ("index", "validate", "--offline", "--mapping", "twice.json"),
        ("index", "diff", "--mapping", "twice.json"),
        ("index", "create", "--mapping", "twice.json"),
    ):
        run = _ticketctl(search, *args)
        assert run.returncode == ExitCode.CONFIG, (args, run.stdout, run.stderr)
        assert expected in run.stderr, (args, run.stderr)
    assert search.index_names() == []  # nothing was created with the silently merged mapping


def test_the_mapping_setting_is_used_by_index_create_and_doctor(search: SearchTarget) -> None:
    """search.mapping, relative to the settings file, named once: index create and doctor both read it."""
    project = search.tmp_path / "project"
    (project / "search").mkdir(parents=True)
    custom = search.mapping_variant(
        "custom.json", lambda document: document["mappings"]["properties"].update({"venue": {"type": "keyword"}})
    )
    custom.rename(project / "search" / "events.json")
    (project / "ticketctl.yaml").write_text("search:\n  mapping: search/events.json\n")
    sub = project / "sub"
    sub.mkdir()

    created = _ticketctl(search, "index", "create", cwd=sub)  # from a subfolder: ../ticketctl.yaml is found
    assert created.returncode == 0, created.stdout + created.stderr
    assert "note: settings from ../ticketctl.yaml" in created.stderr
    (index,) = search.index_names()
    live = search.http("GET", f"/{index}/_mapping")[index]["mappings"]["properties"]
    assert live["venue"] == {"type": "keyword"}

    doctor = _ticketctl(search, "doctor", "search.index", "--json", cwd=project)
    check = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}["search.index"]
    assert check["status"] == "ok", check
    assert "search/events.json" in check["summary"], check

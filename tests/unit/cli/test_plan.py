"""``ticketctl plan`` through the CLI's error boundary, on the in-memory Engine: exit codes, text, JSON and
GitHub annotations. The migrations and the index are left out (``--no-init``): their servers are real."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ticketctl.cli.plan import github_command
from ticketctl.errors import ExitCode
from ticketctl.plan import Finding


def test_plan_has_help(cli: Any) -> None:
    code, out, _ = cli("plan", "--help")
    text = " ".join(out.split())
    assert code == 0 and "Changes nothing" in text and "20 up would change something" in text


def test_nothing_planned_yet_then_up_then_nothing_to_do(cli: Any, fake_api: Any) -> None:
    code, out, err = cli("plan", "--no-init")
    assert code == ExitCode.CHANGES, err
    assert "~ containers mysql: would be created" in out
    assert "~ files      docker-compose.yml would be created by render" in out
    assert out.rstrip().splitlines()[-1].startswith("up would make ")
    assert [call for call in fake_api.calls if call[0] not in ("healthy",)] == []

    assert cli("up", "--no-init")[0] == 0
    code, out, _ = cli("plan", "--no-init")
    assert code == ExitCode.OK
    assert "nothing to do: up would change nothing (exit 0" in out


def test_json_has_the_same_content_and_the_exit_code(cli: Any) -> None:
    cli("up", "--no-init")
    code, out, _ = cli("plan", "--no-init", "--json")
    report = json.loads(out)
    assert code == report["exit_code"] == 0
    assert [s["action"] for s in report["stack"]["services"]] == ["unchanged"] * 3
    assert report["findings"] == [] and report["changes"] is False and report["drift"] is False


def test_drift_exits_10_and_a_taken_port_exits_5(cli: Any, fake_api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cli("up", "--no-init")
    redis = next(c for c in fake_api.containers_by_id.values() if c["Name"] == "/unit-redis-1")
    redis["HostConfig"]["Memory"] = 2**30
    code, out, _ = cli("plan", "--no-init")
    assert code == ExitCode.DRIFT
    assert "! containers redis was changed outside ticketctl: memory limit" in out
    assert "'ticketctl up --force-recreate redis' puts it back" in out
    fake_api.foreign_ports.append(
        {"Id": "x", "Names": ["/other"], "Labels": {}, "Ports": [{"IP": "0.0.0.0", "PublicPort": 36380, "Type": "tcp"}]}
    )
    monkeypatch.setenv("TICKETCTL_PORTS__REDIS", "36380")
    code, out, _ = cli("plan", "--no-init", "--format", "github")
    assert code == ExitCode.PORT_CONFLICT  # what stops up comes before drift
    assert "::error title=ticketctl plan%3A ports (blocked)::port 36380 (ports.redis) for redis is taken by" in out


def test_github_annotations_escape_what_github_would_misread() -> None:
    finding = Finding("notice", "migrations", "50% done\nnext, line", file="schemas/a:b,c.sql", line=3)
    assert github_command(finding) == (
        "::notice file=schemas/a%3Ab%2Cc.sql,line=3,title=ticketctl plan%3A migrations (change)"
        "::50%25 done%0Anext, line"
    )


def test_the_step_summary_gets_the_plan_as_markdown(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, _, _ = cli("plan", "--no-init", "--format", "github")
    assert code == ExitCode.CHANGES
    text = summary.read_text()
    assert text.startswith("### ticketctl plan of unit")
    assert "| containers | change | mysql: would be created |" in text

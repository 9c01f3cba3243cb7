"""``ticketctl index``: help texts, exit codes for CI, dry-run rendering, the error boundary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ticketctl.cli.main import app, run
from ticketctl.clients.search import Request, SentRequest, ServerInfo
from ticketctl.search.changes import Change
from ticketctl.search.results import DiffResult, IndexResult, StatusResult
from ticketctl.search.state import LiveIndex

pytestmark = pytest.mark.unit

SERVER = ServerInfo(url="http://127.0.0.1:19201", engine="opensearch", version="3.6.0")
COMMANDS = ["create", "status", "diff", "migrate", "rollback", "prune", "validate", "adopt"]


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("TICKETCTL_") or name == "SEARCH_PASSWORD":
            monkeypatch.delenv(name)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["index", *args])


def live_index(**extra: Any) -> LiveIndex:
    return LiveIndex(
        name="events_v1",
        version=1,
        aliases={"events": {"is_write_index": True}},
        settings={},
        mappings={},
        health="green",
        status="open",
        docs=3,
        **extra,
    )


def status_result(state: str) -> StatusResult:
    index = None if state == "missing" else live_index()
    changes = [] if state != "drift" else [Change("settings", "number_of_shards", "changed", "1", "2", False, "fixed")]
    return StatusResult(
        alias="events",
        server=SERVER,
        dry_run=False,
        requests=[],
        warnings=[],
        state=state,  # type: ignore[arg-type]
        index=index,
        docs=None if index is None else 3,
        file_hash="a" * 64,
        live_hash=None if index is None else ("a" if state == "in_sync" else "b") * 64,
        changes=changes,
        mapping_file="mappings/events.json",
    )


def test_every_index_command_has_help_text() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output
        sub = invoke(command, "--help")
        assert sub.exit_code == 0, sub.output
        assert "--dry-run" in sub.output and "--json" in sub.output
        summary = sub.output.split("Options:")[0]
        assert len(summary.split()) > 8, f"{command} needs a real description"


@pytest.mark.parametrize(("state", "code"), [("in_sync", 0), ("drift", 10), ("missing", 15)])
@pytest.mark.parametrize("as_json", [False, True])
def test_status_exit_codes(monkeypatch: pytest.MonkeyPatch, state: str, code: int, as_json: bool) -> None:
    seen: dict[str, Any] = {}

    def fake_status(settings: Any, secrets: Any, **kwargs: Any) -> StatusResult:
        seen["url"], seen["alias"] = settings.search.url, settings.search.index
        return status_result(state)

    monkeypatch.setattr("ticketctl.search.migrate.index_status", fake_status)
    args = ["status", "--url", "http://127.0.0.1:19201", "--index", "events"] + (["--json"] if as_json else [])
    result = invoke(*args)
    assert result.exit_code == code, result.output
    assert seen == {"url": "http://127.0.0.1:19201", "alias": "events"}
    if as_json:
        assert json.loads(result.output)["state"] == state
    elif state == "drift":
        assert "DRIFT (1 change(s)" in result.output
    elif state == "missing":
        assert "events: missing" in result.output
    else:
        assert "in sync" in result.output


@pytest.mark.parametrize(("state", "code"), [("in_sync", 0), ("drift", 10), ("missing", 15)])
def test_diff_exit_codes(monkeypatch: pytest.MonkeyPatch, state: str, code: int) -> None:
    status = status_result(state)

    def fake_diff(settings: Any, secrets: Any, **kwargs: Any) -> DiffResult:
        return DiffResult(
            alias="events",
            server=SERVER,
            dry_run=False,
            requests=[],
            warnings=[],
            state=status.state,
            index=status.index.name if status.index else None,
            changes=status.changes,
            mapping_file="mappings/events.json",
        )

    monkeypatch.setattr("ticketctl.search.migrate.diff", fake_diff)
    result = invoke("diff")
    assert result.exit_code == code, result.output
    if state == "drift":
        assert "~ settings: number_of_shards: 1 → 2  [needs reindex: fixed]" in result.output
        assert "ticketctl index migrate --reindex" in result.output


def test_dry_run_prints_method_path_and_body(monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"settings": {"index": {"number_of_shards": 1}}, "aliases": {"events": {"is_write_index": True}}}
    planned = SentRequest(Request("PUT", "/events_v1", {"wait_for_active_shards": "1"}, body), sent=False)
    read = SentRequest(Request("GET", "/_cluster/health"), sent=True, status=200)

    def fake_create(settings: Any, secrets: Any, **kwargs: Any) -> IndexResult:
        assert kwargs["dry_run"] is True
        return IndexResult(
            alias="events", server=SERVER, dry_run=True, requests=[read, planned], warnings=[], status="planned"
        )

    monkeypatch.setattr("ticketctl.search.create.create_index", fake_create)
    result = invoke("create", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("dry run: 1 request(s) would be sent")
    assert lines[1] == "PUT /events_v1?wait_for_active_shards=1"
    assert json.loads("\n".join(lines[2:])) == body
    as_json = json.loads(invoke("create", "--dry-run", "--json").output)
    assert as_json["planned_requests"] == [planned.request.as_dict()]


def test_validate_offline_passes_on_the_packaged_mapping() -> None:
    result = invoke("validate", "--offline")
    assert result.exit_code == 0, result.output
    assert "is valid (offline)" in result.output


def test_validate_offline_exits_3_with_file_and_line(tmp_path: Path) -> None:
    from ticketctl.search.spec import load_mapping

    document = json.loads(load_mapping().path.read_text(encoding="utf-8"))
    document["mappings"]["properties"]["venue"]["type"] = "strng"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    result = invoke("validate", "--offline", "--mapping", str(path))
    assert result.exit_code == 3, result.output
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "strng" in text)
    assert f"error: bad.json:{line}: field 'venue': unknown type 'strng'" in result.output


def test_an_unreachable_server_is_one_line_and_exit_9(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        run(["index", "status", "--url", "http://127.0.0.1:1"])
    assert exited.value.code == 9
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: search server at http://127.0.0.1:1 (--url) is unreachable: connection refused — ")


def test_an_invalid_mapping_stops_create_before_any_request(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"mappings": {"properties": {"a": {"type": "text"}}}, }', encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        run(["index", "create", "--url", "http://127.0.0.1:1", "--mapping", str(path)])
    assert exited.value.code == 3
    assert "broken.json:1:" in capsys.readouterr().err


def test_confirmation_is_refused_without_a_terminal_unless_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody can answer: the error says what would have happened and that --yes allows it."""
    from ticketctl.cli.common import confirmer
    from ticketctl.errors import AbortedError

    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(AbortedError) as refused:
        confirmer(False)("Delete events_v1?")
    assert "Delete events_v1?" in str(refused.value) and refused.value.hint == "add --yes"
    assert confirmer(True)("Delete events_v1?") is True


def test_status_json_carries_the_three_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ticketctl.search.migrate.index_status", lambda *a, **k: status_result("in_sync"))
    data = json.loads(invoke("status", "--json").output)
    assert data["spec_hash"] == {"file": "a" * 64, "live": "a" * 64, "recorded": None}
    assert data["index"] == "events_v1" and data["docs"] == 3 and data["server"]["engine"] == "opensearch"


def test_typer_exit_is_the_exit_code_through_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ticketctl.search.migrate.index_status", lambda *a, **k: status_result("drift"))
    with pytest.raises(SystemExit) as exited:
        run(["index", "status"])
    assert exited.value.code == 10

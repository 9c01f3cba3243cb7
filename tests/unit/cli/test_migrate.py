"""``ticketctl migrate`` exit codes and messages that need no server, through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import ORIGINAL_DDL
from tests.support.cli import without_notes
from ticketctl.cli.main import run
from ticketctl.errors import ExitCode

pytestmark = pytest.mark.unit

COMMANDS = ("status", "plan", "repair", "baseline", "lint")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No settings file, no .env, no TICKETCTL_* or password variables from the caller."""
    import os

    for name in list(os.environ):
        if name.startswith("TICKETCTL_") or name.endswith("_PASSWORD") or name == "NO_COLOR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(tmp_path)


def exit_code(*args: str) -> int:
    with pytest.raises(SystemExit) as exited:
        run(list(args))
    return int(exited.value.code or 0)


def test_lint_of_the_seed_exits_config_and_names_row_number(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("migrate", "lint", str(ORIGINAL_DDL / "inventory.sql")) == ExitCode.CONFIG == 3
    out, err = capsys.readouterr()
    assert f"{ORIGINAL_DDL / 'inventory.sql'}:9: reserved-word: column name row_number is a reserved word" in out
    assert err.startswith("error: migrate lint: ")


def test_lint_of_the_shipped_schemas_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("migrate", "lint") == 0
    assert capsys.readouterr().out == "4 file(s) checked, no findings\n"


def test_lint_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("migrate", "lint", "--json", "--server", "mariadb", str(ORIGINAL_DDL / "inventory.sql")) == 3
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    reserved = [f for f in report["findings"] if f["rule"] == "reserved-word"]
    assert [(f["line"], f["file"]) for f in reserved] == [(9, str(ORIGINAL_DDL / "inventory.sql"))]


def test_lint_unknown_server_is_a_usage_error() -> None:
    assert exit_code("migrate", "lint", "--server", "oracle") == ExitCode.USAGE


def test_unknown_database_exits_config(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EVENTS_DB_PASSWORD", "a-password-of-length")
    assert exit_code("migrate", "status", "--db", "orders") == ExitCode.CONFIG
    assert "error: --db: unknown database 'orders' — choose from events, inventory, bookings" in capsys.readouterr().err


def test_missing_password_exits_config_naming_the_secret(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("migrate", "--db", "events") == ExitCode.CONFIG
    err = without_notes(capsys.readouterr().err)
    assert err.startswith("error: EVENTS_DB_PASSWORD: secret not found in .env or the environment")
    assert "ticketctl render" in err


def test_unreachable_server_exits_database(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EVENTS_DB_PASSWORD", "a-password-of-length")
    monkeypatch.setenv("TICKETCTL_MYSQL__PORT", "1")
    monkeypatch.setenv("TICKETCTL_MYSQL__CONNECT_TIMEOUT", "2")
    assert exit_code("migrate", "--db", "events") == ExitCode.DATABASE == 7
    err = without_notes(capsys.readouterr().err)
    assert err.startswith("error: cannot connect to MySQL at 127.0.0.1:1: ")
    assert "a-password-of-length" not in err


def test_bad_migration_file_exits_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "s" / "events").mkdir(parents=True)
    (tmp_path / "s" / "events" / "V1_no_double_underscore.sql").write_text("SELECT 1;")
    monkeypatch.setenv("EVENTS_DB_PASSWORD", "a-password-of-length")
    assert exit_code("migrate", "--db", "events", "--schemas-dir", "s") == ExitCode.CONFIG
    assert "V1_no_double_underscore.sql: not a migration file name" in capsys.readouterr().err


@pytest.mark.parametrize("command", [(), *[(name,) for name in COMMANDS]])
def test_every_command_has_help(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("migrate", *command, "--help") == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: ticketctl migrate")
    help_body = out.split("Options:")[0]
    assert len(help_body.strip().splitlines()) >= 3, out  # usage line plus a sentence of help


def test_migrate_is_listed_in_the_top_level_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_code("--help") == 0
    assert "migrate" in capsys.readouterr().out


def test_every_public_name_of_the_library_resolves_to_a_function_or_class() -> None:
    import inspect

    import ticketctl.migrations as api
    from ticketctl.migrations import lint as _lint_module  # importing the submodule must not shadow a name

    assert inspect.ismodule(_lint_module)
    for name in api.__all__:
        value = getattr(api, name)
        assert not inspect.ismodule(value), name
        assert callable(value), name

"""The CLI boundary: help texts, exit codes, one-line errors, no secrets in output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer

from tests.support.cli import invoke, without_notes
from ticketctl import __version__
from ticketctl.cli.main import app
from ticketctl.config.secrets import read_env_file
from ticketctl.errors import ExitCode


def _all_commands(command, path=()):  # type: ignore[no-untyped-def]
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _all_commands(sub, (*path, name))


def test_every_command_and_option_has_help_text() -> None:
    root = typer.main.get_command(app)
    seen = 0
    for path, command in _all_commands(root):
        assert (command.help or "").strip(), f"ticketctl {' '.join(path)} has no help text"
        for parameter in command.params:
            if getattr(parameter, "hidden", False) or parameter.param_type_name == "argument":
                continue
            assert (getattr(parameter, "help", "") or "").strip(), f"{' '.join(path)} {parameter.name} has no help"
        seen += 1
    assert seen >= 3


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["render", "--help"],
        ["config", "--help"],
        *([command, "--help"] for command in ("logs", "restart", "env", "exec", "version", "completion")),
        *(["shell", client, "--help"] for client in ("mysql", "redis", "search")),
    ],
)
def test_help_exits_zero(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    result = invoke(capsys, args)
    assert result.exit_code == 0
    assert "Usage: ticketctl" in result.stdout


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    import platform

    result = invoke(capsys, [flag])
    assert (result.exit_code, result.stdout.strip()) == (
        0,
        f"ticketctl {__version__} (Python {platform.python_version()})",
    )


def test_bad_settings_file_is_one_line_without_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ticketctl.yaml").write_text("project: ok\nports:\n  mysql: [1, 2]\n")
    result = invoke(capsys, ["render", "--out", "out"])
    assert result.exit_code == ExitCode.CONFIG == 3
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ticketctl.yaml:3: ports.mysql: expected an integer 1-65535, got a list — ")
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_malformed_yaml_through_the_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text("project: [unclosed\n")
    result = invoke(capsys, ["--config", str(config), "config"])
    assert result.exit_code == ExitCode.CONFIG
    assert f"{config}:2: invalid YAML" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    result = invoke(capsys, ["rendre"])
    assert result.exit_code == ExitCode.USAGE
    assert "No such command" in result.stderr


def test_render_output_and_json_never_show_a_secret(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    first = invoke(capsys, ["render", "--out", "stack"])
    assert first.exit_code == 0
    assert "created   docker-compose.yml" in first.stdout
    assert "generated MYSQL_ROOT_PASSWORD" in first.stdout
    second = invoke(capsys, ["render", "--out", "stack", "--json"])
    payload = json.loads(second.stdout)
    assert {f["status"] for f in payload["files"]} == {"unchanged"}
    config = invoke(capsys, ["config", "--json"])
    env = read_env_file(tmp_path / "stack" / ".env")
    assert env is not None and len(env.values) == 5
    for value in env.values.values():
        for result in (first, second, config):
            assert value not in result.output


def test_internal_errors_are_masked_and_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception carrying a secret is shown without it and without a traceback."""
    monkeypatch.chdir(tmp_path)
    invoke(capsys, ["render"])
    env = read_env_file(tmp_path / ".env")
    assert env is not None
    secret = env.values["MYSQL_ROOT_PASSWORD"]
    import ticketctl.render.compose

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"connection string root:{secret}@db")

    monkeypatch.setattr(ticketctl.render.compose, "render", explode)
    result = invoke(capsys, ["render"])
    assert result.exit_code == ExitCode.FAILURE
    assert secret not in result.output
    assert "root:***@db" in result.stderr
    assert "Traceback" not in result.output
    assert len(without_notes(result.stderr).splitlines()) == 1


def test_mermaid_target_prints_the_diagram(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    result = invoke(capsys, ["render", "--target", "mermaid"])
    assert result.exit_code == 0
    assert result.stdout.startswith("```mermaid\nflowchart LR\n")
    assert "inventory_service -->" in result.stdout


def test_config_list_names_every_environment_variable(capsys: pytest.CaptureFixture[str]) -> None:
    result = invoke(capsys, ["config", "--list", "--json"])
    rows = json.loads(result.stdout)
    assert {
        "setting": "ports.mysql",
        "env": "TICKETCTL_PORTS__MYSQL",
        "default": 3306,
        "help": "Host port published for MySQL.",
    } in rows


@pytest.mark.parametrize(
    ("given", "hoisted"),
    [
        (["up", "--debug"], ["--debug", "up"]),
        (["migrate", "status", "--debug", "--json"], ["--debug", "migrate", "status", "--json"]),
        (["--debug", "status", "--debug"], ["--debug", "status"]),
        (["index", "create", "--", "--debug"], ["index", "create", "--", "--debug"]),
    ],
)
def test_debug_is_taken_after_the_command_too(given: list[str], hoisted: list[str]) -> None:
    from ticketctl.cli.main import hoist_global_flags

    assert hoist_global_flags(given) == hoisted


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["render"], "render"),
        (["--debug", "up", "--no-init"], "up"),
        (["-c", "render", "migrate"], "migrate"),  # the value of -c is not the command
        (["--config", "x.yaml", "index", "status"], "index"),
        (["--config=x.yaml", "doctor"], "doctor"),
        (["exec", "mysql", "--", "ls"], "exec"),
        (["--help"], None),
        (["-V"], None),
        ([], None),
        (["rendr"], None),  # a typo needs every command, to suggest the closest
    ],
)
def test_a_run_names_its_command_before_typer_parses(args: list[str], command: str | None) -> None:
    from ticketctl.cli.commands import invoked

    assert invoked(args) == command


def test_a_run_builds_only_the_command_it_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Typer builds a Click command for everything registered: a run that names its command pays for it alone."""
    from ticketctl.cli import commands

    built: list[str | None] = []
    register = commands.register
    monkeypatch.setattr(commands, "register", lambda app, only=None: (built.append(only), register(app, only)))
    assert invoke(capsys, ["config", "--help"]).exit_code == 0
    assert invoke(capsys, ["--help"]).exit_code == 0
    listed = invoke(capsys, ["--help"]).stdout
    assert built[:2] == ["config", None]
    assert all(f"  {entry.name} " in listed for entry in commands.COMMANDS)

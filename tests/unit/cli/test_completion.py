"""Shell completion: the scripts for bash, zsh and fish, and the completions each shell's script asks for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import invoke

CONFIG = "search:\n  engine: opensearch\n"


def _ticketctl(folder: Path, *args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TICKETCTL_", "_TICKETCTL", "_TYPER", "COMP_"))}
    return subprocess.run(
        [sys.executable, "-m", "ticketctl", *args],
        cwd=folder,
        env={**clean, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "ticketctl.yaml").write_text(CONFIG)
    return tmp_path


def bash(folder: Path, line: str) -> list[str]:
    words = line.split(" ")
    done = _ticketctl(folder, _TICKETCTL_COMPLETE="complete_bash", COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def zsh(folder: Path, line: str) -> str:
    done = _ticketctl(folder, _TICKETCTL_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS=line)
    assert done.returncode == 0, done.stderr
    return done.stdout


def fish(folder: Path, line: str) -> list[str]:
    done = _ticketctl(
        folder, _TICKETCTL_COMPLETE="complete_fish", _TYPER_COMPLETE_ARGS=line, _TYPER_COMPLETE_FISH_ACTION="get-args"
    )
    assert done.returncode == 0, done.stderr
    return [row.split("\t")[0] for row in done.stdout.splitlines() if row]


def test_commands_complete_in_every_shell(folder: Path) -> None:
    assert bash(folder, "ticketctl re") == ["render", "restart"]
    assert '"render":' in zsh(folder, "ticketctl re") and '"restart":' in zsh(folder, "ticketctl re")
    assert fish(folder, "ticketctl sh") == ["shell"]
    assert bash(folder, "ticketctl shell ") == ["mysql", "redis", "search"]


def test_service_names_come_from_the_settings(folder: Path) -> None:
    assert bash(folder, "ticketctl logs ")[:3] == ["mysql", "redis", "opensearch"]
    assert "elasticsearch" not in bash(folder, "ticketctl logs ")
    assert bash(folder, "ticketctl restart op") == ["opensearch"]
    assert bash(folder, "ticketctl logs mysql re") == ["redis"]
    assert "booking-service" in bash(folder, "ticketctl up boo")
    assert fish(folder, "ticketctl exec re") == ["redis"]
    assert '"opensearch"' in zsh(folder, "ticketctl logs op")


def test_databases_env_targets_formats_and_shells_complete(folder: Path) -> None:
    assert bash(folder, "ticketctl shell mysql ") == ["events", "inventory", "bookings"]
    assert bash(folder, "ticketctl env boo") == ["booking-service"]
    assert bash(folder, "ticketctl env --format ") == ["dotenv", "shell", "json"]
    assert fish(folder, "ticketctl completion ") == ["bash", "zsh", "fish"]


def test_a_broken_settings_file_completes_nothing_and_prints_nothing(folder: Path) -> None:
    (folder / "ticketctl.yaml").write_text("ports: [\n")
    assert bash(folder, "ticketctl logs ") == []


def test_the_bash_script_completes_through_bash_itself(folder: Path) -> None:
    script = _ticketctl(folder, "completion", "bash")
    assert script.returncode == 0 and "complete -o default -F _ticketctl_completion ticketctl" in script.stdout
    (folder / "bin").mkdir()
    launcher = folder / "bin" / "ticketctl"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} -m ticketctl "$@"\n')
    launcher.chmod(0o755)
    (folder / "ticketctl.bash").write_text(script.stdout)
    run = (
        "source ./ticketctl.bash; COMP_WORDS=(ticketctl restart m); COMP_CWORD=2; "
        '_ticketctl_completion ticketctl; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TICKETCTL_")}
    done = subprocess.run(
        ["bash", "--norc", "-c", run],
        cwd=folder,
        env={**clean, "PATH": f"{folder / 'bin'}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["mysql"]


@pytest.mark.parametrize(
    ("shell", "marker"), [("zsh", "compdef _ticketctl_completion ticketctl"), ("fish", "complete --command ticketctl")]
)
def test_zsh_and_fish_scripts_call_back_with_the_variables_the_tests_use(shell: str, marker: str, folder: Path) -> None:
    script = _ticketctl(folder, "completion", shell).stdout
    assert marker in script and "_TICKETCTL_COMPLETE=complete_" + shell in script and "_TYPER_COMPLETE_ARGS" in script


def test_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    result = invoke(capsys, ["completion", "tcsh"])
    assert result.exit_code == 2 and "bash, zsh or fish" in result.stderr


def test_help_has_no_install_completion_options(capsys: pytest.CaptureFixture[str]) -> None:
    result = invoke(capsys, ["--help"])
    assert "--install-completion" not in result.stdout and "completion" in result.stdout

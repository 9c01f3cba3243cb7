"""Shell completion: the scripts for bash, zsh and fish, and the completions each shell's script asks for."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import invoke
from tests.support.requirements import SHELLS

CONFIG = "search:\n  engine: opensearch\n"


def _run(argv: list[str], folder: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=folder, env=environment, capture_output=True, text=True, timeout=60, check=False)


def _clean_environ() -> dict[str, str]:
    """This process's environment without the test servers' settings or a completion request."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TICKETCTL_", "_TICKETCTL", "_TYPER", "COMP_"))}


def _ticketctl(folder: Path, *args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "ticketctl", *args], folder, {**_clean_environ(), **environment})


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


@pytest.fixture
def launcher(folder: Path) -> dict[str, str]:
    """The environment of a user's shell whose PATH finds a ``ticketctl`` that runs this checkout."""
    (folder / "bin").mkdir()
    program = folder / "bin" / "ticketctl"
    program.write_text(f'#!/bin/sh\nexec {sys.executable} -m ticketctl "$@"\n')
    program.chmod(0o755)
    return {**_clean_environ(), "PATH": f"{folder / 'bin'}:{os.environ['PATH']}", "HOME": str(folder), "TERM": "dumb"}


def _installed(shell: str) -> str:
    return SHELLS[shell].require()


def test_the_bash_script_completes_through_bash_itself(folder: Path, launcher: dict[str, str]) -> None:
    script = _ticketctl(folder, "completion", "bash")
    assert script.returncode == 0 and "complete -o default -F _ticketctl_completion ticketctl" in script.stdout
    (folder / "ticketctl.bash").write_text(script.stdout)
    run = (
        "source ./ticketctl.bash; COMP_WORDS=(ticketctl restart m); COMP_CWORD=2; "
        '_ticketctl_completion ticketctl; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = _run([_installed("bash"), "--norc", "-c", run], folder, launcher)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["mysql"]


def test_the_fish_script_completes_through_fish_itself(folder: Path, launcher: dict[str, str]) -> None:
    (folder / "ticketctl.fish").write_text(_ticketctl(folder, "completion", "fish").stdout)
    run = (
        'source ticketctl.fish; complete --do-complete "ticketctl sh"; echo ==; '
        'complete --do-complete "ticketctl restart op"; echo ==; complete --do-complete "ticketctl shell mysql "'
    )
    done = _run([_installed("fish"), "--no-config", "-c", run], folder, launcher)
    assert done.returncode == 0, done.stderr
    commands, services, databases = (
        [row.split("\t")[0] for row in part.splitlines() if row] for part in done.stdout.split("==\n")
    )
    assert commands == ["shell"]
    assert services == ["opensearch"]
    assert sorted(databases) == ["bookings", "events", "inventory"]


def _zsh_tab(folder: Path, environment: dict[str, str], typed: str) -> tuple[str, str]:
    """Type ``typed`` and Tab at an interactive zsh with compinit and the script loaded, on a terminal.

    Returns the command line after the completion and everything zsh drew (a
    list of candidates when it was ambiguous). The line is read back by typing
    Ctrl-A and a ``print`` in front of it, whose markers differ from their echo.
    """
    import pty
    import select

    controller, terminal = pty.openpty()
    zsh = subprocess.Popen(
        [_installed("zsh"), "-f", "-i"], stdin=terminal, stdout=terminal, stderr=terminal, cwd=folder, env=environment
    )
    os.close(terminal)
    transcript = b""

    def read_until(pattern: bytes) -> re.Match[bytes]:
        nonlocal transcript
        deadline = time.monotonic() + 60
        while (found := re.search(pattern, transcript, re.DOTALL)) is None:
            assert time.monotonic() < deadline, f"zsh did not answer: {transcript[-2000:]!r}"
            if select.select([controller], [], [], 0.2)[0]:
                transcript += os.read(controller, 65536)
        return found

    try:
        os.write(
            controller, b"bindkey -e; autoload -U compinit; compinit -u -D; source ./ticketctl.zsh; print $((6*7))\n"
        )
        read_until(rb"\r\n42\r\n")
        transcript = b""
        # Typed ahead: zsh reads the keys after the Tab only once the completion has ended.
        os.write(controller, typed.encode() + b'\t\x01print -r -- "<$((40+3))>" \x05 "<$((40+4))>"\n')
        line = read_until(rb"<43> (.*?) <44>\r\n").group(1).decode()
        os.write(controller, b"exit\n")
        zsh.wait(timeout=30)
    finally:
        if zsh.poll() is None:
            zsh.kill()
            zsh.wait()
        os.close(controller)
    return line.strip(), transcript.decode(errors="replace")


def test_the_zsh_script_completes_through_zsh_itself(folder: Path, launcher: dict[str, str]) -> None:
    (folder / "ticketctl.zsh").write_text(_ticketctl(folder, "completion", "zsh").stdout)
    assert _zsh_tab(folder, launcher, "ticketctl logs op")[0] == "ticketctl logs opensearch"
    assert _zsh_tab(folder, launcher, "ticketctl shell mysql inv")[0] == "ticketctl shell mysql inventory"
    line, drawn = _zsh_tab(folder, launcher, "ticketctl re")
    assert line == "ticketctl re"
    assert re.search(r"render +-- Render", drawn) and re.search(r"restart +-- Restart", drawn)


def test_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    result = invoke(capsys, ["completion", "tcsh"])
    assert result.exit_code == 2 and "bash, zsh or fish" in result.stderr


def test_help_has_no_install_completion_options(capsys: pytest.CaptureFixture[str]) -> None:
    result = invoke(capsys, ["--help"])
    assert "--install-completion" not in result.stdout and "completion" in result.stdout
